// Placeholder until this module's implementation lands.
