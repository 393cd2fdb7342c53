"""Action Units: the AU space, OpenFace I/O, AU sources and the inverse estimator."""

from miex.au.space import (
    AU_NAMES,
    AU_NUMBERS,
    FACS_NAMES,
    LABEL_NAMES,
    N_AUS,
    OPENFACE_R_NAMES,
    au_index,
    from_openface,
    to_openface,
    validate_z,
    z_from_mapping,
    z_to_mapping,
)

__all__ = [
    "AU_NAMES",
    "AU_NUMBERS",
    "FACS_NAMES",
    "LABEL_NAMES",
    "N_AUS",
    "OPENFACE_R_NAMES",
    "au_index",
    "from_openface",
    "to_openface",
    "validate_z",
    "z_from_mapping",
    "z_to_mapping",
]
