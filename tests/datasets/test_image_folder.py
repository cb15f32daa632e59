"""load_image_folder on real images: sklearn's digits written as PNG files, and
sklearn's two sample photographs (JPEG) cut into tiles."""

import gc
import pathlib
import unicodedata
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits

from sktransfer import FineTunedCNNClassifier
from sktransfer.datasets import load_image_folder

Image = pytest.importorskip("PIL.Image")


@pytest.fixture(scope="module")
def digit_folder(tmp_path_factory):
    """Digits 0-2 as 8-bit greyscale PNGs, one folder per digit."""
    root = tmp_path_factory.mktemp("digits")
    X, y = load_digits(n_class=3, return_X_y=True)
    pixels = (X * 255 / 16).round().astype(np.uint8).reshape(-1, 8, 8)
    for i, (image, label) in enumerate(zip(pixels, y, strict=True)):
        folder = root / f"digit{label}"
        folder.mkdir(exist_ok=True)
        suffix = ".PNG" if i == 1 else ".png"  # cameras write upper case
        Image.fromarray(image).save(folder / f"{i:04d}{suffix}")
    (root / "digit0" / ".DS_Store").write_bytes(b"\0\1")  # skipped: hidden
    # macOS copies leave "._" files, no image whatever their ending; Jupyter a
    # hidden folder: both skipped
    (root / "digit0" / "._0000.png").write_bytes(b"\0\5\26\7")
    (root / ".ipynb_checkpoints").mkdir()
    Image.fromarray(pixels[0]).save(root / ".ipynb_checkpoints" / "0000.png")
    (root / "digit0" / "notes.txt").write_text("skipped: not an image")
    (root / "README.md").write_text("skipped: not a class folder")
    return root, pixels, y


def test_digits_come_back_exactly_and_train_a_classifier(digit_folder):
    root, pixels, y = digit_folder
    data = load_image_folder(root, mode="L", shuffle=False)
    assert data.data.dtype == np.uint8 and data.data.shape == (len(y), 1, 8, 8)
    assert data.target_names == ["digit0", "digit1", "digit2"]
    order = np.argsort(y, kind="stable")  # by class, then by file name
    np.testing.assert_array_equal(data.data[:, 0], pixels[order])
    np.testing.assert_array_equal(data.target, [f"digit{k}" for k in y[order]])
    assert data.filenames[0].endswith("digit0/0000.png")
    shuffled = load_image_folder(root, mode="L")  # as sklearn's load_files
    assert len(set(shuffled.target[:10])) == 3
    position = {name: i for i, name in enumerate(data.filenames)}
    at = [position[name] for name in shuffled.filenames]
    assert sorted(at) == list(range(len(y)))  # each image once, with its label
    np.testing.assert_array_equal(shuffled.data, data.data[at])
    np.testing.assert_array_equal(shuffled.target, data.target[at])
    again = load_image_folder(root, mode="L", random_state=0)
    np.testing.assert_array_equal(again.filenames, shuffled.filenames)
    X, labels = load_image_folder(root, mode="L", return_X_y=True)
    rng = np.random.RandomState(0)
    test = rng.rand(len(X)) < 0.3
    model = FineTunedCNNClassifier(
        "small_cnn", pixel_scale=255, max_epochs=5, device="cpu", random_state=0
    ).fit(X[~test], labels[~test])
    assert model.score(X[test], labels[test]) > 0.9  # 3 classes: chance 0.33


def test_images_in_subfolders_of_a_class_folder_belong_to_it(tmp_path):
    # torchvision's ImageFolder and Keras read class folders recursively: a
    # cat photographed in 2023 is still a cat (they were skipped, silently)
    X, y = load_digits(n_class=2, return_X_y=True)
    pixels = (X[:6] * 255 / 16).round().astype(np.uint8).reshape(-1, 8, 8)
    places = [
        "one/a.png",
        "one/2023/b.png",
        "one/2023/june/c.png",
        "two/d.png",
        "two/x/e.png",
        "two/.thumbs/f.png",
    ]  # the last: hidden, skipped
    for image, place in zip(pixels, places, strict=True):
        (tmp_path / place).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(tmp_path / place)
    data = load_image_folder(tmp_path, mode="L", shuffle=False)
    names = [
        str(name.relative_to(tmp_path)) for name in map(pathlib.Path, data.filenames)
    ]
    assert names == [
        "one/2023/b.png",
        "one/2023/june/c.png",
        "one/a.png",
        "two/d.png",
        "two/x/e.png",
    ]
    np.testing.assert_array_equal(data.target, ["one"] * 3 + ["two"] * 2)
    np.testing.assert_array_equal(data.data[:, 0], pixels[[1, 2, 0, 3, 4]])


def test_class_names_are_composed_as_typed(tmp_path, digit_folder):
    # a folder written by macOS' HFS+ holds "café" decomposed; the label
    # compares equal to the "café" typed in code
    _, pixels, _ = digit_folder
    for name in ("café", "crème"):
        folder = tmp_path / unicodedata.normalize("NFD", name)
        folder.mkdir()
        for i in range(3):
            Image.fromarray(pixels[i]).save(folder / f"{i}.png")
    data = load_image_folder(tmp_path, mode="L", shuffle=False)
    assert data.target_names == ["café", "crème"]
    assert set(data.target) == {"café", "crème"}
    picked = load_image_folder(tmp_path, mode="L", categories=["crème"])
    assert set(picked.target) == {"crème"} and len(picked.target) == 3
    (tmp_path / "café").mkdir()  # the same name composed: which class?
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with pytest.raises(ValueError, match="two class folders named 'café'"):
            load_image_folder(tmp_path, mode="L")
        gc.collect()
    # the folder's listing was closed when the error left it, not left open
    assert [w for w in caught if w.category is ResourceWarning] == []


def test_threads_read_the_same_images_in_the_same_order(digit_folder, monkeypatch):
    import threading

    from sktransfer.datasets import _image_folder

    alone = load_image_folder(digit_folder[0], mode="L", n_jobs=1)
    readers, read = [], _image_folder._read
    first_three = threading.Barrier(3, timeout=30)

    def reading(*args):
        readers.append(threading.current_thread().name)
        if len(readers) <= 3:
            first_three.wait()  # three threads read at once, or this times out
        return read(*args)

    monkeypatch.setattr(_image_folder, "_read", reading)
    together = load_image_folder(digit_folder[0], mode="L", n_jobs=3)
    assert len(set(readers[:3])) == 3 and len(readers) == len(alone.data)
    np.testing.assert_array_equal(together.data, alone.data)
    np.testing.assert_array_equal(together.filenames, alone.filenames)
    for bad in (0, 1.5, "2", True):
        with pytest.raises(ValueError, match="n_jobs must be a nonzero int or None"):
            load_image_folder(digit_folder[0], n_jobs=bad)


def test_a_broken_file_among_many_is_named_when_threads_read(tmp_path, digit_folder):
    folder = tmp_path / "digits"
    folder.mkdir()
    for i, image in enumerate(digit_folder[1][:40]):
        Image.fromarray(image).save(folder / f"{i:02d}.png")
    (folder / "20b.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(ValueError, match=r"20b.png is not a readable image"):
        load_image_folder(tmp_path, n_jobs=2)


def test_verbose_shows_progress_over_the_images(digit_folder, capsys):
    load_image_folder(digit_folder[0], categories=["digit1"], verbose=True)
    shown = capsys.readouterr().err
    assert "images" in shown and f"{(digit_folder[2] == 1).sum()}/" in shown


def test_colour_mode_and_categories(digit_folder):
    root, pixels, y = digit_folder
    X, labels = load_image_folder(root, categories=["digit2"], return_X_y=True)
    assert X.shape == ((y == 2).sum(), 3, 8, 8) and set(labels) == {"digit2"}
    np.testing.assert_array_equal(X[:, 0], X[:, 2])  # grey in three channels
    with pytest.raises(ValueError, match=r"Did you mean \['digit2'"):
        load_image_folder(root, categories=["digit22"])


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory):
    """Tiles of sklearn's sample photos, JPEG, of two sizes, one folder each."""
    from sklearn.datasets import load_sample_images

    root = tmp_path_factory.mktemp("photos")
    for name, photo in zip(
        ("china", "flower"), load_sample_images().images, strict=True
    ):
        (root / name).mkdir()
        for k in range(4):
            tile = photo[100 * k : 100 * k + 90, 200 : 200 + 60 + 20 * k]
            Image.fromarray(tile).save(root / name / f"{k}.jpg", quality=95)
    return root


def test_photos_of_several_sizes_are_resized_as_pillow_does(photo_folder):
    data = load_image_folder(photo_folder, size=(32, 48))
    assert data.data.shape == (8, 3, 32, 48) and data.data.dtype == np.uint8
    for pixels, file in zip(data.data, data.filenames, strict=True):
        with Image.open(file) as image:
            expected = image.convert("RGB").resize((48, 32), Image.Resampling.BILINEAR)
        np.testing.assert_array_equal(pixels, np.asarray(expected).transpose(2, 0, 1))
    # the two photographs differ in colour: the tiles say which one they are
    mean = data.data.reshape(8, 3, -1).mean(axis=2)
    china, flower = mean[data.target == "china"], mean[data.target == "flower"]
    assert not np.allclose(china.mean(axis=0), flower.mean(axis=0), atol=10)
    square = load_image_folder(photo_folder, size=16, return_X_y=True)[0]
    assert square.shape == (8, 3, 16, 16)


def test_a_photo_is_turned_upright_as_its_exif_orientation_says(tmp_path):
    from sklearn.datasets import load_sample_image

    photo = load_sample_image("flower.jpg")[:60, :90]  # landscape, 60x90
    (tmp_path / "flower").mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: show it rotated 90 degrees clockwise
    Image.fromarray(photo).save(tmp_path / "flower" / "phone.png", exif=exif)
    data = load_image_folder(tmp_path).data
    assert data.shape == (1, 3, 90, 60)  # portrait, as a viewer shows it
    upright = np.rot90(photo, k=-1)  # clockwise
    np.testing.assert_array_equal(data[0], upright.transpose(2, 0, 1))


def test_images_of_different_sizes_need_a_size(photo_folder):
    with pytest.raises(ValueError, match=r"differ in size: .*0.jpg is 90x60 and "):
        load_image_folder(photo_folder, shuffle=False)


@pytest.mark.parametrize("size", [0, (8,), (8, -1), "8", 8.5, (True, 8)])
def test_bad_sizes_and_modes(digit_folder, size):
    with pytest.raises(
        ValueError, match=r"size must be an int or \(height, width\), positive"
    ):
        load_image_folder(digit_folder[0], size=size)


def test_bad_folders_and_files(tmp_path):
    with pytest.raises(ValueError, match="is not a folder"):
        load_image_folder(tmp_path / "missing")
    with pytest.raises(ValueError, match="holds no class folder"):
        load_image_folder(tmp_path)
    (tmp_path / "cats").mkdir()
    with pytest.raises(ValueError, match=r"class folder .*cats holds no image"):
        load_image_folder(tmp_path)
    (tmp_path / "cats" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(ValueError, match=r"a.png is not a readable image"):
        load_image_folder(tmp_path)
    with pytest.raises(ValueError, match="mode must be 'RGB' or 'L'"):
        load_image_folder(tmp_path, mode="CMYK")


@pytest.mark.parametrize(
    "pixels, name, mode",
    [
        # Pillow before 10.? opens a 16-bit PNG as "I", later ones as "I;16"
        (np.full((4, 4), 40000, np.uint16), "deep.png", "I(;16)?"),
        (np.full((4, 4), 0.5, np.float32), "float.tif", "F"),
    ],
)
def test_images_of_more_than_8_bits_are_refused_not_clipped(
    tmp_path, pixels, name, mode
):
    (tmp_path / "scans").mkdir()
    Image.fromarray(pixels).save(tmp_path / "scans" / name)
    with pytest.raises(ValueError, match=rf"{name} has '{mode}' pixels .* clip"):
        load_image_folder(tmp_path)
