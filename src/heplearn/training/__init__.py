"""Training a run: the run configuration, the LightningModule and its data, the Trainer
set-up (checkpoints, resume, early stopping, loggers), the training events of each step
(:mod:`.sampling`), estimators trained without Lightning, k-fold training (:mod:`.kfold`),
and the record written to the run directory (:func:`heplearn.training.fit.train`).
"""
