"""``flint cluster`` and ``flint server``: registered through the ``flint.cli`` entry points."""
