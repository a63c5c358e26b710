"""The bundled churn example: `data` (a deterministic synthetic dataset), `features`
(`customer_activity`) and `train` (a small PyTorch MLP). Import the submodules directly;
this package does not import torch or pandas by itself."""
