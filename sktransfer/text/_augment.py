"""Data augmentation for text: words dropped at random from training batches.

``PretrainedEmbeddingClassifier(augment="word_dropout")`` removes each token of
a training batch with some probability, drawn anew every epoch (never for
validation data or ``predict``): the model cannot lean on a few words, as the
deep averaging network of Iyyer et al. (2015) trains.
"""

from collections.abc import Callable, Mapping

import torch
from torch import nn

from sktransfer._augment import resolve_augment_param

TEXT_AUGMENTATIONS = {
    "word_dropout": (0.3, 0.9, "the share of the tokens dropped"),
}
"""``{name: (default strength, largest strength, what the strength is)}``."""

TEXT_AUGMENT_DOC = """
    augment : str, dict, callable or None, default=None
        Random changes to each training batch, drawn anew every epoch from
        the fit's random state; validation documents and ``predict`` see the
        documents as they are. ``"word_dropout"`` drops each token with
        probability 0.3 (a document whose tokens all go pools to zeros for
        that step); ``{"word_dropout": 0.5}`` sets the probability (up to
        0.9). On 20 Newsgroups with the mean encoder and
        ``transfer="fine_tune"`` it adds 1.3-4 points at 0.3 and 2.6-3.6 at
        0.5 (10 and 50 documents per class, and the full training set), and
        little with frozen vectors (``benchmarks/results/text_augment.md``).
        A callable gets each
        training batch of token ids (an integer tensor ``(batch, length)``
        on the device, 0 for padding) and returns it changed, the same shape
        and dtype; define it at module level so that the estimator pickles.
        With ``transfer="frozen"`` the documents are then encoded every epoch
        instead of once, and the head trains by AdamW."""


def resolve_text_augment(
    augment: str | Mapping[str, float] | Callable | None,
) -> nn.Module | None:
    """``augment`` (PretrainedEmbeddingClassifier's parameter) as a module.

    Parameters
    ----------
    augment : str, dict, callable or None
        See :class:`~sktransfer.PretrainedEmbeddingClassifier`.

    Returns
    -------
    module : torch.nn.Module or None
        A :class:`WordDropout`, the callable wrapped, or None.

    Examples
    --------
    >>> from sktransfer.text import resolve_text_augment
    >>> resolve_text_augment("word_dropout")
    WordDropout(word_dropout=0.3)
    >>> resolve_text_augment({"word_dropout": 0.5})
    WordDropout(word_dropout=0.5)
    """
    return resolve_augment_param(
        augment, TEXT_AUGMENTATIONS, WordDropout, "a batch of token ids"
    )


class WordDropout(nn.Module):
    """Each token of a batch dropped (made padding) with a probability.

    Active in training mode only; in eval mode it returns the ids as they
    are. It holds no parameters or buffers.

    Parameters
    ----------
    word_dropout : float, default=0.3
        Probability that a token is dropped.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.text import WordDropout
    >>> ids = torch.tensor([[5, 17, 42, 0]])
    >>> WordDropout(0.9).eval()(ids).tolist()  # predict: unchanged
    [[5, 17, 42, 0]]
    """

    def __init__(self, word_dropout=0.3):
        super().__init__()
        self.word_dropout = float(word_dropout)

    def extra_repr(self):
        return f"word_dropout={self.word_dropout}"

    def forward(self, ids):
        """The batch with tokens dropped at random (training mode only).

        Parameters
        ----------
        ids : torch.Tensor of shape (batch, length), int
            Token ids, 0 for padding.

        Returns
        -------
        ids : torch.Tensor of shape (batch, length), int
            The same, with each token made 0 with probability
            ``word_dropout``.
        """
        if not self.training or not self.word_dropout:
            return ids
        dropped = torch.rand(ids.shape, device=ids.device) < self.word_dropout
        return ids.masked_fill(dropped, 0)
