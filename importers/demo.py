"""The demo city (示例市): a fictional city with the real structure, deterministic from a seed.

:func:`generate_demo_city` builds everything in memory (no database): a city outline, districts,
townships/streets, villages/communities and grids, each level a Voronoi tiling of its parent
clipped to the parent, so the grids of a village tile it with no gap and no overlap.  Geometry is
built in a local metric frame (metres east/north of the city's origin) and projected to WGS 84
lon/lat at the end.  Cases cluster around markets, construction sites, old residential blocks and
urban villages, over a background proportional to population.

:func:`importers.demo_load.load_demo_city` writes a generated city to the database.

Geometry, names, people and cases are identical for the same seed and size; case times are
relative to ``now`` (the day of loading unless given).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

import numpy as np

import shapely
from shapely.geometry import MultiPoint, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from gis.pii import id_check_character
from importers import demo_text as words

ORIGIN_LON, ORIGIN_LAT = 113.90, 22.95  # fictional placement; metres → degrees around here
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(ORIGIN_LAT))
CITY_CODE = "990100"  # province 99 does not exist: the codes can never clash with a real city
CITY_NAME = "示例市"


@dataclass(frozen=True)
class DemoSize:
    radius_m: float
    districts: int
    townships_per_district: tuple[int, ...]  # the first is the central, urban district
    villages_urban: tuple[int, int]
    villages_rural: tuple[int, int]
    grids_urban: tuple[int, int]
    grids_rural: tuple[int, int]
    hotspots: int
    cases: int


SIZES: dict[str, DemoSize] = {
    "city": DemoSize(24_000, 4, (8, 7, 8, 7), (11, 13), (8, 10), (9, 12), (6, 8), 45, 22_000),
    "small": DemoSize(6_000, 2, (2, 2), (4, 5), (3, 4), (5, 7), (3, 5), 6, 1_200),
}


@dataclass
class DemoRegion:
    code: str
    name: str
    level: str
    parent_code: str | None
    geom: BaseGeometry  # MultiPolygon, WGS 84
    urban: bool = False


@dataclass
class DemoGrid:
    code: str
    name: str
    village_code: str
    geom: BaseGeometry
    households: int
    population: int


@dataclass
class DemoCenter:
    name: str
    region_code: str
    point: Point
    phone: str
    address: str


@dataclass
class DemoWorker:
    code: str
    name: str
    phone: str
    village_code: str
    grid_codes: list[str]
    role: str = "chief"  # their part in their grids' teams (gis.roles.GRID_ROLES)


@dataclass
class DemoCase:
    kind: str
    category: str
    severity: str
    description: str
    lon: float
    lat: float
    reported_at: datetime
    received_at: datetime
    status: str
    #: where it came from (案件来源): ``case_source``'s values
    source: str = "grid_worker"
    #: fictional residents: (role, name, phone, id_card)
    parties: list[tuple[str, str, str, str]] = field(default_factory=list)


@dataclass
class DemoCity:
    seed: int
    size: str
    regions: list[DemoRegion] = field(default_factory=list)
    grids: list[DemoGrid] = field(default_factory=list)
    centers: list[DemoCenter] = field(default_factory=list)
    workers: list[DemoWorker] = field(default_factory=list)
    cases: list[DemoCase] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# geometry helpers (metric frame)


def _to_lonlat(geom: BaseGeometry) -> BaseGeometry:
    def project(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(
            (ORIGIN_LON + xy[:, 0] / _M_PER_DEG_LON, ORIGIN_LAT + xy[:, 1] / _M_PER_DEG_LAT)
        )

    return shapely.transform(geom, project)


def _polygonal(geom: BaseGeometry) -> MultiPolygon:
    """Polygonal parts only (clipping can leave slivers of lines or points at touching edges)."""
    parts = [p for p in shapely.get_parts(geom) if isinstance(p, Polygon) and not p.is_empty]
    return MultiPolygon(parts)


def _city_outline(rng: np.random.Generator, radius: float) -> Polygon:
    theta = np.linspace(0, 2 * np.pi, 256, endpoint=False)
    wobble = np.ones_like(theta)
    for k, amp in ((2, 0.12), (3, 0.08), (5, 0.05), (7, 0.03)):
        wobble += amp * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    return Polygon(
        np.column_stack((radius * wobble * np.cos(theta), radius * wobble * np.sin(theta)))
    )


def _sample_inside(
    rng: np.random.Generator,
    poly: BaseGeometry,
    n: int,
    weight=None,  # type: ignore[no-untyped-def]
) -> np.ndarray:
    """``n`` points inside ``poly``; with ``weight(xy) -> [0, 1]``, denser where it is high."""
    minx, miny, maxx, maxy = poly.bounds
    out: list[np.ndarray] = []
    count = 0
    while count < n:
        xy = rng.uniform((minx, miny), (maxx, maxy), size=(max(4 * n, 64), 2))
        keep = shapely.contains_xy(poly, xy[:, 0], xy[:, 1])
        if weight is not None:
            keep &= rng.uniform(size=len(xy)) < weight(xy)
        out.append(xy[keep])
        count += int(keep.sum())
    return np.concatenate(out)[:n]


def _spread_seeds(
    rng: np.random.Generator,
    poly: BaseGeometry,
    n: int,
    density=None,  # type: ignore[no-untyped-def]
) -> np.ndarray:
    """Well-spaced seeds (Mitchell's best candidate), closer together where ``density`` is high."""
    candidates = _sample_inside(rng, poly, 24 * n)
    scale = np.ones(len(candidates)) if density is None else np.sqrt(density(candidates))
    chosen = [0]
    best = np.hypot(*(candidates - candidates[0]).T) * scale
    for _ in range(n - 1):
        i = int(np.argmax(best))
        chosen.append(i)
        best = np.minimum(best, np.hypot(*(candidates - candidates[i]).T) * scale)
    return candidates[chosen]


def _tile(parent: BaseGeometry, seeds: np.ndarray) -> list[MultiPolygon]:
    """Voronoi cells of ``seeds`` clipped to ``parent``, in seed order; together they tile it."""
    cells = shapely.voronoi_polygons(MultiPoint(seeds), extend_to=parent, ordered=True)
    return [_polygonal(shapely.intersection(cell, parent)) for cell in shapely.get_parts(cells)]


# ---------------------------------------------------------------------------------------------
# names


class _Names:
    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def place(self, suffix: str) -> str:
        while True:
            name = (
                words.PLACE_FIRST[self.rng.integers(len(words.PLACE_FIRST))]
                + words.PLACE_SECOND[self.rng.integers(len(words.PLACE_SECOND))]
            )
            if name not in self.used:
                self.used.add(name)
                return name + suffix

    def person(self) -> str:
        given = "".join(
            words.GIVEN[self.rng.integers(len(words.GIVEN))] for _ in range(self.rng.integers(1, 3))
        )
        return words.SURNAMES[self.rng.integers(len(words.SURNAMES))] + given

    def mobile(self) -> str:
        return "13" + "".join(str(d) for d in self.rng.integers(0, 10, 9))

    def id_card(self, address_code: str) -> str:
        """A fictional 18-character ID with a valid check character (address code 99…)."""
        birth = datetime(1950, 1, 1) + timedelta(days=int(self.rng.integers(0, 55 * 365)))
        first17 = f"{address_code}{birth:%Y%m%d}{int(self.rng.integers(0, 1000)):03d}"
        return first17 + id_check_character(first17)

    def desk_phone(self) -> str:
        return "0999-8" + "".join(str(d) for d in self.rng.integers(0, 10, 6))


# ---------------------------------------------------------------------------------------------
# the hierarchy


def _urbanness(xy: np.ndarray, radius: float) -> np.ndarray:
    return np.exp(-((np.hypot(xy[:, 0], xy[:, 1]) / (0.35 * radius)) ** 2))


def _district_seeds(rng: np.random.Generator, spec: DemoSize) -> np.ndarray:
    turn = rng.uniform(0, 2 * np.pi)
    ring = spec.districts - 1
    angles = turn + np.arange(ring) * 2 * np.pi / ring
    outer = 0.6 * spec.radius_m * np.column_stack((np.cos(angles), np.sin(angles)))
    return np.vstack(([[0.0, 0.0]], outer)) if ring > 1 else np.array([[0.0, 0.0], outer[0]])


def _build_hierarchy(rng: np.random.Generator, spec: DemoSize, city: DemoCity) -> None:
    names = _Names(rng)
    outline = _city_outline(rng, spec.radius_m)
    radius = spec.radius_m

    def density(xy: np.ndarray) -> np.ndarray:
        return 0.15 + _urbanness(xy, radius)

    city.regions.append(
        DemoRegion(CITY_CODE, CITY_NAME, "city", None, MultiPolygon([outline]), True)
    )
    districts = _tile(outline, _district_seeds(rng, spec))
    for di, dgeom in enumerate(districts):
        dcode = f"{CITY_CODE[:4]}{di + 2:02d}"
        city.regions.append(
            DemoRegion(dcode, words.DISTRICT_NAMES[di], "district", CITY_CODE, dgeom, di == 0)
        )
        tseeds = _spread_seeds(rng, dgeom, spec.townships_per_district[di], density)
        streets = towns = 0
        for tseed, tgeom in zip(tseeds, _tile(dgeom, tseeds), strict=True):
            urban = di == 0 or float(np.hypot(*tseed)) < 0.4 * radius
            # GB/T 10114: streets 001–099, towns 100–199
            if urban:
                streets += 1
                tcode, tname = f"{dcode}{streets:03d}", names.place("街道")
            else:
                towns += 1
                tcode, tname = f"{dcode}{100 + towns:03d}", names.place("镇")
            city.regions.append(DemoRegion(tcode, tname, "township", dcode, tgeom, urban))
            _build_villages(rng, spec, names, city, tcode, tgeom, urban, density)


def _build_villages(
    rng: np.random.Generator,
    spec: DemoSize,
    names: _Names,
    city: DemoCity,
    tcode: str,
    tgeom: BaseGeometry,
    urban: bool,
    density,  # type: ignore[no-untyped-def]
) -> None:
    lo, hi = spec.villages_urban if urban else spec.villages_rural
    vseeds = _spread_seeds(rng, tgeom, int(rng.integers(lo, hi + 1)), density)
    for vi, vgeom in enumerate(_tile(tgeom, vseeds)):
        # communities (居委会) 001–199, villages (村委会) 200–399
        vcode = f"{tcode}{vi + 1 if urban else 200 + vi + 1:03d}"
        vname = names.place("社区" if urban else "村")
        city.regions.append(DemoRegion(vcode, vname, "village", tcode, vgeom, urban))
        glo, ghi = spec.grids_urban if urban else spec.grids_rural
        gseeds = _spread_seeds(rng, vgeom, int(rng.integers(glo, ghi + 1)))
        for gi, ggeom in enumerate(_tile(vgeom, gseeds)):
            households = int(rng.integers(300, 501) if urban else rng.integers(120, 351))
            city.grids.append(
                DemoGrid(
                    code=f"{vcode}{gi + 1:03d}",
                    name=f"{vname}第{gi + 1}网格",
                    village_code=vcode,
                    geom=ggeom,
                    households=households,
                    population=int(households * rng.uniform(2.6, 3.2)),
                )
            )


#: a community of this many grids or more has a grid supervisor (网格监督员) over them all
SUPERVISED_GRIDS = 3


def _build_centers_and_workers(rng: np.random.Generator, city: DemoCity) -> None:
    names = _Names(rng)
    for region in city.regions:
        kind = "综治服务站" if region.level == "village" else "综治中心"
        road = words.ROADS[int(rng.integers(len(words.ROADS)))]
        city.centers.append(
            DemoCenter(
                name=f"{region.name}{kind}",
                region_code=region.code,
                point=region.geom.point_on_surface(),
                phone=names.desk_phone(),
                address=f"{region.name}{road}{int(rng.integers(1, 300))}号",
            )
        )
    by_village: dict[str, list[DemoGrid]] = {}
    for grid in city.grids:
        by_village.setdefault(grid.village_code, []).append(grid)
    urban = {r.code for r in city.regions if r.level == "village" and r.urban}
    for vcode, grids in by_village.items():
        i = seq = 0
        while i < len(grids):
            take = 1 if vcode in urban else int(rng.integers(1, 3))  # rural workers cover 1–2
            seq += 1
            city.workers.append(
                DemoWorker(
                    code=f"W{vcode}{seq:02d}",
                    name=names.person(),
                    phone=names.mobile(),
                    village_code=vcode,
                    grid_codes=[g.code for g in grids[i : i + take]],
                )
            )
            i += take
    # 一主任三大员: each community of three grids or more has a 网格监督员 over all its grids
    # (its own random numbers, so that the rest of the city is the same as without them)
    supervisors = _Names(np.random.default_rng(city.seed + 1))
    supervisors.used = names.used
    for vcode, grids in by_village.items():
        if vcode in urban and len(grids) >= SUPERVISED_GRIDS:
            city.workers.append(
                DemoWorker(
                    code=f"W{vcode}90",
                    name=supervisors.person(),
                    phone=supervisors.mobile(),
                    village_code=vcode,
                    grid_codes=[g.code for g in grids],
                    role="supervisor",
                )
            )


# ---------------------------------------------------------------------------------------------
# cases


_SEVERITIES = ("minor", "normal", "major", "critical")
_DEFAULT_SEVERITY = {
    "marriage_family": "normal",
    "neighbour": "minor",
    "housing_homestead": "normal",
    "land_forest": "normal",
    "labour_wage": "major",
    "property_mgmt": "normal",
    "consumer": "minor",
    "medical": "major",
    "traffic_accident": "normal",
    "land_requisition": "major",
    "contract_debt": "normal",
    "dispute_other": "normal",
    "fire": "major",
    "public_order": "normal",
    "building_safety": "major",
    "gas": "major",
    "traffic_safety": "normal",
    "flood": "major",
    "rental_housing": "normal",
    "small_venues": "normal",
    "food_safety": "normal",
    "hazard_other": "normal",
}
_HAZARDS = {
    "fire",
    "public_order",
    "building_safety",
    "gas",
    "traffic_safety",
    "flood",
    "rental_housing",
    "small_venues",
    "food_safety",
    "hazard_other",
}
_STATUS_BY_AGE = (  # (max age in days, statuses, probabilities)
    (
        7,
        ("registered", "accepted", "dispatched", "in_progress", "resolved", "closed"),
        (0.1, 0.15, 0.15, 0.3, 0.15, 0.15),
    ),
    (
        30,
        ("accepted", "dispatched", "in_progress", "resolved", "verified", "closed"),
        (0.03, 0.05, 0.12, 0.1, 0.1, 0.6),
    ),
    (10_000, ("in_progress", "resolved", "verified", "closed"), (0.02, 0.02, 0.03, 0.93)),
)
_HOUR_WEIGHTS = np.array(
    [1, 1, 1, 1, 1, 2, 4, 8, 12, 16, 16, 13, 9, 10, 14, 15, 14, 12, 10, 10, 9, 6, 3, 2], float
)


def _pick(rng: np.random.Generator, weights: dict[str, float], n: int) -> np.ndarray:
    keys = list(weights)
    p = np.array([weights[k] for k in keys])
    return np.array(keys)[rng.choice(len(keys), size=n, p=p / p.sum())]


def _case_times(
    rng: np.random.Generator, now: datetime, days: np.ndarray
) -> tuple[list[datetime], np.ndarray]:
    """Each case's time of report, ``days`` days before today at an hour of the day's rhythm;
    and the days, where a time later today than the load moved a case back.

    Such a case goes back a whole number of weeks (1 to 25, by its place in the list) to the
    same hour, not to the minute of the load: 70-odd cases received in the same minute made a
    spike on the live map and in the day's figures."""
    hours = rng.choice(24, size=len(days), p=_HOUR_WEIGHTS / _HOUR_WEIGHTS.sum())
    seconds = rng.integers(0, 3600, size=len(days))
    today = now.astimezone(_SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    latest = now - timedelta(minutes=5)
    times, moved = [], days.copy()
    for i, (d, h, s) in enumerate(zip(days, hours, seconds, strict=True)):
        t = today - timedelta(days=int(d)) + timedelta(hours=int(h), seconds=int(s))
        if t > latest:
            back = 7 * (1 + i % 25)
            t -= timedelta(days=back)
            moved[i] += back
        times.append(t)
    return times, moved


_SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")


def _points_in_grids(
    rng: np.random.Generator, grids: list[DemoGrid], idx: np.ndarray
) -> np.ndarray:
    out = np.empty((len(idx), 2))
    for gi in np.unique(idx):
        rows = np.nonzero(idx == gi)[0]
        out[rows] = _sample_inside(rng, grids[gi].geom, len(rows))
    return out


def _build_cases(rng: np.random.Generator, spec: DemoSize, city: DemoCity, now: datetime) -> None:
    grids = city.grids
    village_urban = {r.code: r.urban for r in city.regions if r.level == "village"}
    village_name = {r.code: r.name for r in city.regions if r.level == "village"}
    households = np.array([g.households for g in grids], float)
    urban = np.array([village_urban[g.village_code] for g in grids])
    outline = city.regions[0].geom

    n_hot = int(spec.cases * 0.45)
    n_bg = spec.cases - n_hot
    # hotspots: mostly in urban grids; a third of them emerged only in the last weeks
    kinds = list(words.HOTSPOT_CATEGORIES)
    hot_kind = np.array(kinds)[rng.choice(len(kinds), size=spec.hotspots, p=[0.3, 0.2, 0.3, 0.2])]
    hot_grid = rng.choice(
        len(grids),
        size=spec.hotspots,
        p=(households * (1 + 4 * urban)) / (households * (1 + 4 * urban)).sum(),
    )
    hot_centre = _points_in_grids(rng, grids, hot_grid)
    hot_sigma = rng.uniform(60, 250, spec.hotspots)
    hot_recent = rng.uniform(size=spec.hotspots) < 0.3
    hot_weight = rng.pareto(1.5, spec.hotspots) + 1

    which = rng.choice(spec.hotspots, size=n_hot, p=hot_weight / hot_weight.sum())
    xy_hot = hot_centre[which] + rng.normal(size=(n_hot, 2)) * hot_sigma[which, None]
    # keep GPS noise up to 40 m past the city edge: those cases go to the nearest grid
    inside = shapely.contains_xy(outline.buffer(40), xy_hot[:, 0], xy_hot[:, 1])
    xy_hot, which = xy_hot[inside], which[inside]
    days_hot = np.where(
        hot_recent[which], rng.integers(0, 35, len(which)), rng.integers(0, 180, len(which))
    )
    cat_hot = np.array([_pick(rng, words.HOTSPOT_CATEGORIES[hot_kind[w]], 1)[0] for w in which])

    bg_grid = rng.choice(len(grids), size=n_bg, p=households / households.sum())
    xy_bg = _points_in_grids(rng, grids, bg_grid)
    days_bg = rng.integers(0, 180, n_bg)
    cat_bg = np.where(
        urban[bg_grid],
        _pick(rng, words.BACKGROUND_URBAN, n_bg),
        _pick(rng, words.BACKGROUND_RURAL, n_bg),
    )
    # the place named in a description: the village the point was drawn in (hotspots: their own)
    place_hot = [village_name[grids[g].village_code] for g in hot_grid[which]]
    place_bg = [village_name[grids[g].village_code] for g in bg_grid]

    xy = np.vstack((xy_hot, xy_bg))
    lonlat = np.asarray(shapely.get_coordinates(_to_lonlat(MultiPoint(xy))))
    days = np.concatenate((days_hot, days_bg))
    cats = np.concatenate((cat_hot, cat_bg))
    places = place_hot + place_bg
    reported, days = _case_times(rng, now, days)
    delay = np.where(
        rng.uniform(size=len(days)) < 0.03,
        rng.integers(3600, 12 * 3600, len(days)),
        rng.integers(1, 120, len(days)),
    )
    shift = rng.choice((-1, 0, 1), size=len(days), p=(0.1, 0.8, 0.1))
    variant = rng.integers(0, 2, len(days))
    for i in range(len(days)):
        cat = str(cats[i])
        sev = _SEVERITIES[min(3, max(0, _SEVERITIES.index(_DEFAULT_SEVERITY[cat]) + int(shift[i])))]
        age = int(days[i])
        statuses, probs = next((s, p) for limit, s, p in _STATUS_BY_AGE if age < limit)
        received = min(reported[i] + timedelta(seconds=int(delay[i])), now)
        city.cases.append(
            DemoCase(
                kind="hazard" if cat in _HAZARDS else "dispute",
                category=cat,
                severity=sev,
                description=words.DESCRIPTIONS[cat][variant[i]].format(place=places[i]),
                lon=float(lonlat[i, 0]),
                lat=float(lonlat[i, 1]),
                reported_at=reported[i],
                received_at=received,
                status=str(rng.choice(statuses, p=probs)),
            )
        )
    city.cases.sort(key=lambda c: c.received_at)


def generate_demo_city(
    seed: int = 2026, size: str = "city", now: datetime | None = None
) -> DemoCity:
    """Build the demo city in memory.  Geometries are WGS 84 lon/lat MultiPolygons/Points."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}")
    spec = SIZES[size]
    now = now or datetime.now(UTC)
    city = DemoCity(seed=seed, size=size)
    rng = np.random.default_rng(seed)
    _build_hierarchy(rng, spec, city)
    _build_cases(rng, spec, city, now)
    # project everything from the metric frame to lon/lat
    for region in city.regions:
        region.geom = _to_lonlat(region.geom)
    for grid in city.grids:
        grid.geom = _to_lonlat(grid.geom)
    _build_centers_and_workers(rng, city)
    _add_parties(rng, city)
    # (a generator of its own: the draws above stay as they were)
    _add_sources(np.random.default_rng([seed, 1]), city)
    return city


#: where a kind's cases come from (案件来源): most from the grid workers' rounds, hazards more
#: so; a dispute more often walks in, is diverted from 110 or comes as a petition
_SOURCES = {
    "dispute": {"grid_worker": 0.50, "hotline": 0.15, "walk_in": 0.15,
                "police_diversion": 0.09, "petition": 0.06, "online": 0.05},
    "hazard": {"grid_worker": 0.72, "hotline": 0.15, "walk_in": 0.04,
               "police_diversion": 0.02, "petition": 0.01, "online": 0.06},
}  # fmt: skip


def _add_sources(rng: np.random.Generator, city: DemoCity) -> None:
    """Each case's channel, drawn by its kind (not by its number: a month's counts by channel
    then came out as round multiples, 240 · 240 · 240)."""
    kinds = np.array([c.kind for c in city.cases])
    sources = np.empty(len(kinds), dtype=object)
    for kind, weights in _SOURCES.items():
        which = np.flatnonzero(kinds == kind)
        sources[which] = _pick(rng, weights, len(which))
    for case, source in zip(city.cases, sources, strict=True):
        case.source = str(source)


def _add_parties(rng: np.random.Generator, city: DemoCity) -> None:
    """Residents involved in most disputes: an applicant and often a respondent."""
    names = _Names(rng)
    district = sorted(r.code for r in city.regions if r.level == "district")[0]
    for case in city.cases:
        if case.kind != "dispute" or rng.uniform() > 0.6:
            continue
        roles = ["applicant"] + (["respondent"] if rng.uniform() < 0.7 else [])
        case.parties = [
            (role, names.person(), names.mobile(), names.id_card(district)) for role in roles
        ]
