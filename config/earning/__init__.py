"""Points-earning rules: the YAML schema (``schema``) and the form the engine reads (``compiled``)."""
