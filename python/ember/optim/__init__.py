"""ember.optim: optimizers (the base class walks the parameters, each optimizer's update is one
fused kernel call) and learning-rate schedulers, with PyTorch's names and semantics."""

from ember.optim import lr_scheduler
from ember.optim.adam import Adam, AdamW
from ember.optim.optimizer import Optimizer
from ember.optim.sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "lr_scheduler"]
