"""ember.nn: modules (layers, containers, losses), their functional core (ember.nn.functional),
initialisers (ember.nn.init) and a model summary, with PyTorch's names and semantics."""

from ember.nn import functional, init
from ember.nn.activation import GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from ember.nn.container import ModuleDict, ModuleList, Sequential
from ember.nn.conv import Conv2d
from ember.nn.dropout import Dropout
from ember.nn.flatten import Flatten
from ember.nn.linear import Identity, Linear
from ember.nn.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from ember.nn.module import Module
from ember.nn.normalization import BatchNorm1d, BatchNorm2d
from ember.nn.parameter import Parameter
from ember.nn.pooling import AvgPool2d, MaxPool2d
from ember.nn.summary import ModelSummary, summary

__all__ = [
    "AvgPool2d",
    "BCELoss",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "CrossEntropyLoss",
    "Dropout",
    "Flatten",
    "GELU",
    "Identity",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "MaxPool2d",
    "ModelSummary",
    "Module",
    "ModuleDict",
    "ModuleList",
    "NLLLoss",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "functional",
    "init",
    "summary",
]
