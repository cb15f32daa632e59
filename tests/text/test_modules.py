import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sktransfer.text._modules import TextEncoder, bag_pool
from sktransfer.text._tokenize import Tokenizer


def _reference(ids, table, mode):
    """Mean and max over the real tokens, written out on the padded matrix."""
    embedded, real = table[ids], (ids != 0).unsqueeze(-1)
    mean = (embedded * real).sum(1) / real.sum(1).clamp_min(1)
    peak = embedded.masked_fill(~real, -torch.inf).max(1).values
    peak = torch.where(real.any(1), peak, torch.zeros_like(peak))
    return {"mean": mean, "max": peak, "mean_max": torch.cat([mean, peak], 1)}[mode]


@pytest.mark.parametrize("mode", ["mean", "max", "mean_max"])
@pytest.mark.parametrize("real_tokens_only", [True, False])
@pytest.mark.parametrize("dtype", [torch.int32, torch.int64])
def test_bag_pooling_of_real_glove_documents(
    glove, news, mode, real_tokens_only, dtype
):
    # real documents as GloVe rows + 1 (0: padding), one of them without a
    # known word, padded to the longest
    rows = [
        [glove.key_to_index[t] + 1 for t in doc if t in glove.key_to_index][:200]
        for doc in map(Tokenizer(), news["X"][:20] + ["zzqx qqzx"])
    ]
    ids = torch.zeros((len(rows), max(map(len, rows))), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    assert 0 < (ids != 0).float().mean() < 1 and not rows[-1]
    table = torch.cat([torch.zeros(1, 50), torch.from_numpy(glove.vectors)])
    weights = [table.clone().requires_grad_() for _ in range(2)]
    pooled = bag_pool(ids.to(dtype), weights[0], mode, real_tokens_only)
    expected = _reference(ids, weights[1], mode)
    torch.testing.assert_close(pooled, expected, rtol=1e-5, atol=1e-6)
    assert torch.equal(pooled[-1], torch.zeros_like(pooled[-1]))
    # the same gradient reaches the rows the documents use, none the others
    upstream = torch.randn(pooled.shape, generator=torch.Generator().manual_seed(0))
    (pooled * upstream).sum().backward()
    (expected * upstream).sum().backward()
    torch.testing.assert_close(weights[0].grad, weights[1].grad, rtol=1e-5, atol=1e-6)
    unused = np.setdiff1d(np.arange(len(table)), ids.unique().numpy())
    assert torch.equal(weights[0].grad[unused], torch.zeros(len(unused), 50))


def test_the_cnn_encoder_skips_a_batchs_trailing_padding(glove, news):
    """The Kim CNN sees each document as followed by endless padding, so
    cutting the columns of padding a batch shares changes no feature."""
    torch.manual_seed(0)
    encoder = TextEncoder("cnn", 50)
    table = torch.cat([torch.zeros(1, 50), torch.from_numpy(glove.vectors)])
    rows = [
        [glove.key_to_index[t] + 1 for t in doc if t in glove.key_to_index][:40]
        for doc in map(Tokenizer(), news["X"][:8])
    ]
    ids = torch.zeros((len(rows), 300), dtype=torch.long)  # 260+ padding columns
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    with torch.no_grad():
        cut = encoder(ids, table)
        whole = encoder.cnn(F.embedding(ids, table, padding_idx=0), ids != 0)
        alone = torch.cat([encoder(ids[i : i + 1], table) for i in range(len(rows))])
        empty = encoder(torch.zeros((2, 300), dtype=torch.long), table)
    torch.testing.assert_close(cut, whole)
    torch.testing.assert_close(alone, whole)
    assert cut.shape == (len(rows), 300) and empty.shape == (2, 300)
    assert torch.equal(empty[0], empty[1])
