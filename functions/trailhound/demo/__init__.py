"""``trailhound demo``: the whole incident, locally, against an in-process AWS emulator."""
