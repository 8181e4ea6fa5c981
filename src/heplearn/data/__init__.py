"""From the user's files to model-ready batches.

The dataset spec, the readers of every input format (``readers/``: ROOT, Parquet, HDF5,
public jet data sets), expressions, weights and their diagnostics, labels, splits,
padding, jet images, preprocessing, the batch contract (``batch``), the processing of a
chunk of columns into inputs that both loaders share (``processing``), the in-memory
dataset and the streaming loader (with its read-ahead, ``prefetch``), and on-disk
shuffling.
"""
