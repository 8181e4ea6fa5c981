"""Axis labels a physicist reads: ``jet_pt`` is drawn as "Jet $p_T$ [GeV]".

One lookup for every figure, table and report: a variable's label comes from the dataset
spec's ``labels`` (``{variable: "text [unit]"}``), else from the ``labels`` of the
``metadata.json`` beside the files (generated samples write theirs), else from the
branches of heplearn's own samples (:data:`KNOWN_LABELS`), else it is the variable's
name. Labels are matplotlib text: ``$...$`` is mathtext.
"""

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

METADATA_NAME = "metadata.json"
"""The file beside a generated sample's data that describes it."""

_JET = {
    "jet_pt": r"Jet $p_T$ [GeV]",
    "jet_eta": r"Jet $\eta$",
    "jet_phi": r"Jet $\phi$",
    "jet_mass": "Jet mass [GeV]",
    "jet_energy": "Jet energy [GeV]",
    "jet_sdmass": "Jet soft-drop mass [GeV]",
    "jet_nparticles": "Jet constituents",
    "jet_tau1": r"Jet $\tau_1$",
    "jet_tau2": r"Jet $\tau_2$",
    "jet_tau3": r"Jet $\tau_3$",
    "jet_tau21": r"Jet $\tau_{21}$",
    "jet_tau32": r"Jet $\tau_{32}$",
    "jet_c2": r"Jet $C_2^{(\beta=1)}$",
    "jet_d2": r"Jet $D_2^{(\beta=1)}$",
    "npart": "Jet constituents",
    "part_pt": r"Constituent $p_T$ [GeV]",
    "part_eta": r"Constituent $\eta$",
    "part_phi": r"Constituent $\phi$",
    "part_energy": "Constituent energy [GeV]",
    "part_px": r"Constituent $p_x$ [GeV]",
    "part_py": r"Constituent $p_y$ [GeV]",
    "part_pz": r"Constituent $p_z$ [GeV]",
    "part_deta": r"Constituent $\Delta\eta$ to the jet axis",
    "part_dphi": r"Constituent $\Delta\phi$ to the jet axis",
    "part_charge": "Constituent charge",
}
_LEPTONS = {
    "lep1_pt": r"Leading lepton $p_T$ [GeV]",
    "lep1_eta": r"Leading lepton $\eta$",
    "lep1_phi": r"Leading lepton $\phi$",
    "lep2_pt": r"Subleading lepton $p_T$ [GeV]",
    "lep2_eta": r"Subleading lepton $\eta$",
    "lep2_phi": r"Subleading lepton $\phi$",
    "ptll": r"$p_T^{\ell\ell}$ [GeV]",
    "mll": r"$m_{\ell\ell}$ [GeV]",
    "dphill": r"$\Delta\phi_{\ell\ell}$",
    "met": r"$E_T^{\mathrm{miss}}$ [GeV]",
    "met_phi": r"$\phi(E_T^{\mathrm{miss}})$",
    "mth": r"$m_T^{\ell\ell,\mathrm{miss}}$ [GeV]",
    "mtw1": r"$m_T^{W}$ (leading lepton) [GeV]",
    "mtw2": r"$m_T^{W}$ (subleading lepton) [GeV]",
    "upara": r"Recoil $u_\parallel$ [GeV]",
    "uperp": r"Recoil $u_\perp$ [GeV]",
    "njet": r"Jets ($p_T$ > 30 GeV)",
    "ptTOT": r"$p_T^{\mathrm{tot}}$ [GeV]",
    "mTOT": r"$m^{\mathrm{tot}}$ [GeV]",
    "ptTOT_cut": r"$p_T^{\mathrm{tot}}$ (jets $|\eta|$ < 4.7) [GeV]",
    "mTOT_cut": r"$m^{\mathrm{tot}}$ (jets $|\eta|$ < 4.7) [GeV]",
}

KNOWN_LABELS: Mapping[str, str] = {**_JET, **_LEPTONS}
"""Labels of the branches of heplearn's generated samples (see docs/samples.md)."""


def variable_label(name: str, labels: Mapping[str, str] | None = None) -> str:
    """The axis label of a variable: given labels first, then :data:`KNOWN_LABELS`, then the name.

    Parameters
    ----------
    name : str
        A branch name or expression, e.g. ``jet_pt``.
    labels : mapping of str to str, optional
        Labels from a dataset spec or a sample's metadata (see :func:`dataset_labels`).

    Returns
    -------
    str
        E.g. ``Jet $p_T$ [GeV]``; the name itself when nothing is known about it.
    """
    return (labels or {}).get(name) or KNOWN_LABELS.get(name) or name


def sample_labels(branches: Iterable[str]) -> dict[str, str]:
    """The known labels of some branches, as a generated sample writes them to its metadata.

    Parameters
    ----------
    branches : iterable of str
        The sample's branch names.

    Returns
    -------
    dict of str to str
        Labels of the branches in :data:`KNOWN_LABELS`, in the order given.
    """
    return {name: KNOWN_LABELS[name] for name in branches if name in KNOWN_LABELS}


def metadata_labels(files: Iterable[str | Path]) -> dict[str, str]:
    """The ``labels`` of the ``metadata.json`` files in the folders of some data files.

    Parameters
    ----------
    files : iterable of str or Path
        Data files or globs (only their folders are looked at).

    Returns
    -------
    dict of str to str
        Every label found; a missing, unreadable or label-less metadata file adds nothing.
    """
    labels: dict[str, str] = {}
    for folder in dict.fromkeys(Path(file).parent for file in files):
        try:
            metadata = json.loads((folder / METADATA_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        found = metadata.get("labels") if isinstance(metadata, dict) else None
        if isinstance(found, dict):
            labels.update({str(key): str(value) for key, value in found.items()})
    return labels


def dataset_labels(files: Iterable[str | Path], spec_labels: Mapping[str, str]) -> dict[str, str]:
    """The labels of a dataset: its files' metadata, overridden by the spec's ``labels``.

    Parameters
    ----------
    files : iterable of str or Path
        The dataset's files or globs.
    spec_labels : mapping of str to str
        The ``labels`` of the dataset spec.

    Returns
    -------
    dict of str to str
        To pass to :func:`variable_label`.
    """
    return {**metadata_labels(files), **spec_labels}


_MATH_SYMBOLS = {
    r"\varepsilon": "ε",
    r"\epsilon": "ε",
    r"\eta": "η",
    r"\phi": "φ",
    r"\Delta": "Δ",
    r"\tau": "τ",
    r"\beta": "β",
    r"\ell": "ℓ",
    r"\parallel": "∥",
    r"\perp": "⊥",
    r"\geq": "≥",
}


def plain_text(label: str) -> str:
    """A label without mathtext, for captions and tables: ``Jet $p_T$ [GeV]`` → ``Jet pT [GeV]``.

    Parameters
    ----------
    label : str
        A matplotlib label, possibly with ``$...$`` mathtext.

    Returns
    -------
    str
        Greek letters as Unicode, sub- and superscripts run in, no ``$``, braces or ``\\``.
    """
    text = re.sub(r"\\mathrm\{([^}]*)\}", r"\1", label)
    for macro, symbol in _MATH_SYMBOLS.items():
        text = re.sub(re.escape(macro) + r"(?![A-Za-z])", symbol, text)
    return re.sub(r"[${}^_]", "", text).replace("\\", "")
