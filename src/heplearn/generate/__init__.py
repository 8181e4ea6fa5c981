"""Labelled collider samples from Pythia 8 and FastJet (``heplearn generate``)."""
