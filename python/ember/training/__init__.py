"""Training loop: fit / evaluate / predict, callbacks and History."""

from ember.training.callbacks import Callback, LambdaCallback, TerminateOnNaN, TrainState
from ember.training.checkpoint import ModelCheckpoint
from ember.training.early_stopping import EarlyStopping
from ember.training.history import History
from ember.training.loop import evaluate, fit, predict
from ember.training.lr_schedule import LearningRateScheduler

__all__ = [
    "Callback",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "TerminateOnNaN",
    "TrainState",
    "evaluate",
    "fit",
    "predict",
]
