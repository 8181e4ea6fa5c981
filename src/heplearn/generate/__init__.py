"""Labelled collider samples from Pythia 8 and FastJet (``heplearn generate``).

Pythia 8 and FastJet come with the ``heplearn[generate]`` extra; importing this package
without them is one error naming the ``pip install`` to run.
"""

from heplearn.extras import require_extra

require_extra("generate", "generating events (heplearn generate, heplearn demo)")
