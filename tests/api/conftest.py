"""Fixtures for API tests: a fake engine with known records, keys for every role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from indexing.records import DemandRecord, PatentRecord

from api.main import create_app
from tests.api.fakes import FakeEngine

PATENTS = [
    (PatentRecord("P-NEV-1", "一种电动汽车电机控制器散热结构", "本发明公开了一种电机控制器散热结构，解决了电动汽车电机散热不良的问题。",
                  ipc=("H02K9/19",), applicant="某某大学", applicant_type="university"), ("nev",)),
    (PatentRecord("P-NEV-2", "一种新能源汽车电池包热管理系统", "本发明公开了一种电池包热管理系统，降低电池包温差。",
                  ipc=("H01M10/613",), applicant="某研究院", applicant_type="institute"),
     ("nev", "battery_storage")),
    (PatentRecord("P-NEV-3", "一种车载充电机的控制方法", "本发明公开了一种车载充电机控制方法，提高充电效率。",
                  ipc=("B60L53/20",)), ("nev",)),
    (PatentRecord("P-BAT-1", "一种低温锂离子电池电解液及其制备方法", "本发明公开了一种低温电解液，改善锂离子电池低温放电性能，缓解冬季续航衰减。",
                  ipc=("H01M10/0525",)), ("battery_storage",)),
    (PatentRecord("P-BAT-2", "一种储能电池簇均衡管理方法", "本发明公开了一种电池簇均衡管理方法，提高电池一致性。",
                  ipc=("H02J7/00",)), ("battery_storage",)),
    (PatentRecord("P-PV-1", "一种光伏组件清洗机器人", "本发明公开了一种光伏组件清洗机器人，提高发电效率。",
                  ipc=("H02S40/10",)), ("pv",)),
]


def _d(id_: str, owner: str | None, chain: str, conf: bool, text: str) -> DemandRecord:
    return DemandRecord(id=id_, text=text, title=text[:10], enterprise="常州某科技有限公司",
                        chain=chain, confidential=conf, owner=owner, contact_name="张伟",
                        contact_phone="13812345678", contact_email="zhangwei@example.com")


DEMANDS = [
    _d("D-A-PUB", "cz-nev", "nev", False, "电动汽车电机散热不好，希望改进电机控制器散热结构"),
    _d("D-A-CONF", "cz-nev", "nev", True, "新能源汽车电池包热管理方案，电池包温差过大"),
    _d("D-B-PUB", "cz-bat", "battery_storage", False, "锂离子电池低温性能差，冬季续航衰减，需要低温电解液"),
    _d("D-B-CONF", "cz-bat", "battery_storage", True, "储能电池簇均衡管理，电池一致性差"),
    _d("D-B-NEVCONF", "cz-bat", "新能源汽车及汽车核心零部件", True, "车载充电机控制方法改进，提高充电效率"),
    # another centre's PUBLIC demand in centre_a's chain: centre_a sees it, masked
    _d("D-B-NEVPUB", "cz-bat", "nev", False, "新能源汽车驱动电机噪声大，希望降低电机噪声"),
    _d("D-X-PUB", None, "pv", False, "光伏组件表面积灰，需要清洗机器人提高发电效率"),
]

# role name -> (role, centre, chains)
KEYS = {
    "operator": ("operator", None, ()),
    "analyst": ("analyst", None, ()),
    "centre_a": ("centre", "cz-nev", ("nev",)),
    "centre_b": ("centre", "cz-bat", ("battery_storage",)),
    "broker": ("broker", None, ()),
    "broker_nev": ("broker", None, ("nev",)),
}

# who sees which demand: the expected answer of the visibility rule
VISIBLE = {
    "operator": {"D-A-PUB", "D-A-CONF", "D-B-PUB", "D-B-CONF", "D-B-NEVCONF", "D-B-NEVPUB",
                 "D-X-PUB"},
    "analyst": {"D-A-PUB", "D-A-CONF", "D-B-PUB", "D-B-CONF", "D-B-NEVCONF", "D-B-NEVPUB",
                "D-X-PUB"},
    "centre_a": {"D-A-PUB", "D-A-CONF", "D-B-NEVPUB"},
    "centre_b": {"D-B-PUB", "D-B-CONF", "D-B-NEVCONF", "D-B-NEVPUB"},
    "broker": {"D-A-PUB", "D-B-PUB", "D-B-NEVPUB", "D-X-PUB"},
    "broker_nev": {"D-A-PUB", "D-B-NEVPUB"},
}


def make_engine(settings, **kw) -> FakeEngine:
    eng = FakeEngine(settings, [p for p, _ in PATENTS], {p.id: c for p, c in PATENTS},
                     list(DEMANDS), **kw)
    eng.publish_build("build-001")
    return eng


@pytest.fixture()
def engine(settings) -> FakeEngine:
    return make_engine(settings)


@pytest.fixture()
def app(settings, engine):
    return create_app(settings, engine=engine, reload_interval=0)


@pytest.fixture()
def client(app) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture()
def keys(app) -> dict[str, str]:
    out = {}
    for name, (role, centre, chains) in KEYS.items():
        key, _ = app.state.keys.create(name, role, centre=centre, chains=chains)
        out[name] = key
    return out


def hdr(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def stored_bytes(app) -> bytes:
    """Everything the app's database holds: every row of every table (both backends), and
    on SQLite the raw file and its write-ahead log too (free pages, old row versions)."""
    import sqlalchemy as sa

    engine = app.state.db.engine
    out = []
    with engine.connect() as conn:
        for name in sa.inspect(conn).get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{name}"')):
                out.append(repr(tuple(row)))
    raw = "\n".join(out).encode("utf-8")
    if engine.dialect.name == "sqlite":
        from pathlib import Path

        db_file = Path(engine.url.database)
        for f in db_file.parent.glob(db_file.name + "*"):
            raw += f.read_bytes()
    return raw


@pytest.fixture()
def ui(client: TestClient, keys: dict[str, str]):
    """A function role -> the client signed in to the web console with that role's key."""
    from tests.api.ui_client import login

    def signed_in(role: str) -> TestClient:
        client.cookies.clear()
        login(client, keys[role])
        return client
    return signed_in
