"""Training front-end: SRNN networks in PyTorch, quantisation-aware fine-tuning,
theta (QIF) networks with exact spike-time gradients, task data loaders, and the
``spikeforge train`` command.

``spikeforge.train.data`` needs only NumPy (and scikit-learn / h5py for the
data sets that use them); ``srnn``, ``trainer`` and ``theta`` import PyTorch.
"""
