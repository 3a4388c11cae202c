"""The tt wire protocol: the single source of truth for bytes between host and device."""
