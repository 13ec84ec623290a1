"""wangge spatial core: models, database, spatial services.

Nothing here knows about HTTP or HTML; ``api``, ``maps`` and ``importers`` call into this package,
never the other way round.  Storage is WGS 84 (EPSG:4326); metric work goes through geography.
"""

WGS84 = 4326
