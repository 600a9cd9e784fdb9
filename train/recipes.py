"""Training recipes: ``seed`` reproduces the original notebook, ``default`` trains far better."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from train.augment import AugmentConfig


@dataclass(frozen=True)
class Recipe:
    """Everything that defines a training run besides the data and the seed."""

    name: str
    epochs: int
    batch_size: int
    learning_rate: float
    # seed recipe: Keras' validation_split (the last fraction of the training set);
    # default recipe: a stratified hold-out of this many training images.
    validation_split: float = 0.0
    validation_size: int = 0
    dropout: float = 0.0
    augment: AugmentConfig | None = None
    cosine_schedule: bool = False
    warmup_epochs: int = 0
    final_lr_fraction: float = 0.01
    best_checkpoint: bool = False
    # extra non-digit images per training image, with uniform targets (train/outliers.py)
    outlier_fraction: float = 0.0
    # average the weights of this last fraction of epochs; kept if validation prefers it
    average_last_fraction: float = 0.0
    # The reader's own candidates on this many synthetic pages (train/judge_data.py): each
    # epoch adds judge_negatives non-digits and judge_positives page digits per training image
    judge_pages: int = 0
    judge_negatives: float = 0.0
    judge_positives: float = 0.0
    # held-out pages on which the acceptance threshold is chosen (never the test set)
    threshold_pages: int = 0

    def with_overrides(self, epochs: int | None = None, batch_size: int | None = None) -> Recipe:
        """A copy with the CLI's overrides applied."""
        return replace(
            self,
            epochs=epochs if epochs is not None else self.epochs,
            batch_size=batch_size if batch_size is not None else self.batch_size,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON description for ``metrics.json``."""
        return asdict(self)


SEED = Recipe(
    name="seed",
    epochs=10,
    batch_size=32,
    learning_rate=1e-3,
    validation_split=0.2,
)

DEFAULT = Recipe(
    name="default",
    epochs=70,
    batch_size=256,
    learning_rate=2e-3,
    validation_size=6000,
    dropout=0.2,
    augment=AugmentConfig(),
    cosine_schedule=True,
    warmup_epochs=1,
    best_checkpoint=True,
    outlier_fraction=0.04,
    average_last_fraction=0.2,
    judge_pages=1500,
    judge_negatives=0.12,
    judge_positives=0.06,
    threshold_pages=300,
)

RECIPES: dict[str, Recipe] = {recipe.name: recipe for recipe in (SEED, DEFAULT)}
