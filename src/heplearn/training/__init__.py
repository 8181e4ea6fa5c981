"""Training a run: the run configuration, the LightningModule and its data, the Trainer
set-up (checkpoints, resume, early stopping, loggers), estimators trained without
Lightning, and the record written to the run directory (:func:`heplearn.training.fit.train`).
"""
