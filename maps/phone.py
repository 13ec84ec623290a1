"""The grid worker's phone page (``/m/``): my grids, my position, a report form, my reports,
and an offline queue.  The page is static HTML + ``phone.js``; data comes from the API.  In
Chinese, or in English (the second locale) for ``?lang=en`` or an English browser."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from html import escape

from gis.cases import SOURCE_NAMES
from gis.intake import MAX_BATCH, ON_SITE_SEVERITIES
from gis.parties import MAX_PER_CASE as MAX_PARTIES
from gis.parties import PARTY_ROLES, PARTY_ROLES_EN
from gis.patrols import MAX_BATCH as PATROL_MAX_BATCH
from gis.patrols import NOTE_MAX as PATROL_NOTE_MAX
from gis.patrols import TRACK_MAX_HOURS, TRACK_MAX_KMH, TRACK_MAX_POINTS
from gis.photos import MAX_PER_CASE, MAX_PER_PATROL
from gis.settings import BaseMapSpec
from gis.workflow import STATE_NAMES, STATE_NAMES_EN
from gis.worktime import SHANGHAI
from maps.assets import OWN_DIR, asset_path, asset_url

#: the files the phone page needs to open without a network, kept by its service worker
OFFLINE_ASSETS = (
    "favicon.svg", "leaflet_css", "phone.css", "leaflet", "wangge.js", "places.js", "phone.js"
)  # fmt: skip
#: where the page registers its service worker (its scope: /m/)
SERVICE_WORKER_URL = "/m/sw.js"

#: how long the phone waits for an answer before it gives a send up and tries again later (on one
#: bar of signal a request may otherwise hang for minutes, and hold up everything queued after it)
SEND_TIMEOUT_MS = 60_000
#: the queue is sent every so often while there is signal (and whenever it comes back)
SYNC_INTERVAL_MS = 15_000
#: "my reports" are read again after a sync that sent something, when the page is looked at again,
#: and else this often: read at every sync, ten thousand phones would ask for them 700 times a
#: second
MINE_REFRESH_MS = 300_000
#: a photo's send is given SEND_TIMEOUT_MS plus its size at this rate (about a weak 2G link): it
#: is slow, not lost, and giving it up would only send it again from the start
SLOW_LINK_BYTES_PER_S = 2_000
#: photos are made smaller on the phone before they are queued: the longest side at most this
#: many pixels, re-encoded as JPEG (a phone camera's 3–8 MB becomes some hundreds of kB, and
#: its EXIF, GPS position included, never leaves the phone).  Smaller photos go as they are.
PHOTO_MAX_PX = 1920
PHOTO_KEEP_BYTES = 500_000
PHOTO_QUALITY = 0.85
#: 现场核查: the most photos of how the place is now a verification carries (a few, as a
#: check-in's; the case's own limit, MAX_PER_CASE, still holds)
VERIFY_MAX_PHOTOS = 3

#: 巡查轨迹: a route point is kept once the phone has moved this many metres from the last one,
#: from a fix of this accuracy or better (a poorer one draws zigzags where nobody walked)
TRACK_STEP_M = 10
TRACK_MIN_ACCURACY_M = 50

#: the page's words, Chinese first and English as the second locale: ``html`` for the page
#: itself, ``js`` for what ``phone.js`` writes ({n}, {lon}, … are filled in there)
TEXT: dict[str, dict[str, dict[str, str]]] = {
    "zh": {
        "html": {
            "title": "网格员上报",
            "map": "我的网格地图",
            "place_search": "查找地名：村/社区、网格",
            "kind": "类型",
            "hazard": "安全隐患",
            "dispute": "矛盾纠纷",
            "category": "类别",
            "source": "案件来源",
            "choose_source": "请选择来源",
            "source_ref": "来源编号",
            "source_ref_hint": "12345 工单号等（可不填）",
            "coords": "坐标",
            "coords_hint": "经度,纬度（可粘贴）",
            "coords_use": "按坐标定位",
            "by_region_found": "具体位置不详：按查到的村（社区）登记",
            "choose_datum": "坐标来自哪个地图？",
            "datum_wgs84": "GPS / 天地图（WGS84）",
            "datum_gcj02": "高德、腾讯地图（GCJ-02）",
            "datum_bd09": "百度地图（BD-09）",
            "description": "情况描述",
            "hint": "时间、地点、人物、经过，简明扼要",
            "on_site": "已就地化解",
            "on_site_hint": "化解情况：如 经调解双方达成一致，已签调解协议",
            "on_site_grave": "该类事件须由综治中心处置，不能就地化解",
            "parties": "当事人（可不填）",
            "parties_note": "姓名、电话、身份证号加密保存，显示时打码",
            "add_party": "＋ 添加当事人",
            "locate": "获取我的位置",
            "nowhere": "尚未定位（也可在地图上点选）",
            "photos": "现场照片（最多 6 张）",
            "add_photo": "＋ 拍照或选择照片",
            "submit": "提交上报",
            "queue": "待发送",
            "queue_note": "（无信号时保存在本机，恢复网络后自动发送）",
            "mine": "我的上报",
            "patrol": "巡查打卡",
            "patrol_note": "巡查情况（可不填）",
            "patrol_hint": "如：沿街商铺消防通道畅通，未见异常",
            "check_in": "打卡",
            "add_patrol_photo": f"＋ 拍下所见（可不拍，最多 {MAX_PER_PATROL} 张）",
            "patrols_today": "今日巡查",
            "track_record": "记录巡查轨迹（本页打开时记录，随下次打卡发送）",
            "grid_open": "我的网格待办",
            "grid_open_note": "（本网格未办结的案件，含热线、来访等各渠道；已办结的待您现场核查）",
            "unplaced": "待查明位置",
            "unplaced_note": "（本村（社区）按名称登记、具体位置不详的案件：到现场后补充位置）",
            "other": "English",
            "logout": "退出",
        },
        "js": {
            "online": "在线",
            "offline": "离线",
            "rejected": "未通过",
            "photos_refused": "照片未通过",
            "photos_refused_detail": "案件 {code} 已登记，但照片未被接受：{reason}",
            "photos_pending": "照片待传",
            "queued": "待发送",
            "delete": "删除",
            "none": "无",
            "others_waiting": "本机另有 {n} 条其他账号的上报，待该账号登录后发送。",
            "no_reports": "暂无",
            "overdue": "已超期",
            "grid_open_count": "{n} 件",
            "grid_open_late": "{n} 件，超期 {late} 件",
            "grid_open_verify": "，待核查 {n} 件",
            "grid_open_verify_late": "，待核查 {n} 件（超期 {late} 件）",
            "to_verify": "待核查",
            "repeat_mark": "高频",
            "repeat_title": "高频线索：同一地点或同一当事人反复反映",
            "duplicate_mark": "疑似重复",
            "duplicate_title": "可能与附近案件重复，待中心确认",
            "verify_late": "核查超期",
            "verify_due": "核查期限 {time}",
            "grid_open_kept": "当前无网络：以下是 {time} 读取的列表。",
            "verify_open": "现场核查",
            "note_open": "现场记录",
            "note_hint": "现场情况：如 已上门了解，双方同意周三到村委会调解",
            "note_save": "保存记录",
            "note_need": "请填写现场情况。",
            "note_saved": "记录已保存，正在发送……",
            "note_saved_offline": "记录已保存在本机，恢复网络后自动发送。",
            "note_item": "现场记录",
            "notes_sent": "已提交 {n} 条现场记录。",
            "verify_hint": "现场情况（未整改到位的必填）：如 杂物已清理，通道畅通",
            "verify_yes": "已整改到位",
            "verify_no": "未整改到位",
            "verify_need_note": "未整改到位的，请写明现场情况。",
            "verify_item": "现场核查",
            "verify_queued": "核查已保存，待发送",
            "verify_saved": "核查已保存，正在发送……",
            "verify_saved_offline": "核查已保存在本机，恢复网络后自动发送。",
            "verify_sent": "已提交 {n} 条现场核查。",
            "verify_add_photo": f"＋ 拍下现在的情况（可不拍，最多 {VERIFY_MAX_PHOTOS} 张）",
            "too_many_verify_photos": f"最多 {VERIFY_MAX_PHOTOS} 张，多选的未加入。",
            "mine_offline": "当前无网络：恢复网络后显示。",
            "sent": "已发送 {n} 条上报。",
            "position": "经度 {lon}，纬度 {lat}",
            "accuracy": "（精度约 {m} 米）",
            "picked": "（地图点选）",
            "typed": "（按{datum}坐标输入）",
            "by_region": "具体位置不详：按「{name}」登记",
            "by_region_set": "具体位置不详，按{name}登记（不在地图上显示，由所属综治中心办理）",
            "bad_coords": "请输入“经度,纬度”两个数，例如 113.930512,22.540213。",
            "choose_datum": "请选择坐标来自哪个地图（高德、腾讯、百度的坐标与 GPS 相差数百米）。",
            "place_none": "没有找到：请换个说法，或输入村/社区、网格代码",
            "place_offline": "没有网络，暂时不能查找地名",
            "no_geolocation": "本设备不支持定位，请在地图上点选位置。",
            "locating": "正在定位……",
            "locate_failed": "定位失败：请允许定位权限，或在地图上点选位置。",
            "unplaced_here": "就在这里：按当前定位补充位置",
            "unplaced_tap": "在地图上点选",
            "unplaced_tap_now": "请在地图上点选案件 {code} 的位置（再按一次“在地图上点选”取消）。",
            "unplaced_done": "案件 {code} 已补充位置，落在网格 {grid}。",
            "unplaced_saved": "位置已记下，正在发送……",
            "unplaced_saved_offline": "位置已记在本机，恢复网络后自动发送。",
            "unplaced_queued": "位置已记下，待发送",
            "locate_item": "补充位置",
            "unplaced_no_fix": "定位失败：请允许定位权限，到开阔处再试。",
            "need_position": "请先获取位置（或在地图上点选）。",
            "need_description": "请填写情况描述。",
            "merged": "已并案",
            "merged_into": "与案件 {code} 为同一事件，已并入该案一并办理",
            "need_on_site": "请写明就地化解的情况（或取消勾选“已就地化解”）。",
            "need_source": "请选择案件来源（群众来访、12345热线等）。",
            "too_many_photos": "最多 6 张照片。",
            "party_role": "身份",
            "party_name": "姓名",
            "party_phone": "电话",
            "party_id_card": "身份证号（可不填）",
            "remove_party": "移除",
            "too_many_parties": "最多 {n} 名当事人。",
            "bad_party_phone": "第 {n} 名当事人的电话格式不正确：应为 11 位手机号或带区号的"
            "固定电话。",
            "bad_party_id_card": "第 {n} 名当事人的身份证号不正确：应为 18 位（最后一位可为 X），"
            "请核对。",
            "remove_photo": "移除",
            "saved_sending": "已保存，正在发送……",
            "saved_offline": "当前无网络：已保存在本机，恢复网络后自动发送。",
            "save_failed": "保存失败：本机存储不可用。",
            "session_expired": "登录已过期。正在填写的上报请先点「提交上报」保存在本机，重新登录后"
            "自动发送。",
            "login_again": "重新登录",
            "draft_restored": "已恢复上次未提交的内容。",
            "patrol_draft_restored": "已恢复上次未打卡的照片和说明。",
            "saving": "正在处理照片并保存……",
            "saved_logged_out": "已保存在本机：重新登录后自动发送。",
            "logout_offline": "无网络，无法退出登录：恢复网络后再试。",
            "patrol_item": "巡查打卡",
            "patrol_locating": "正在定位，定位后打卡……",
            "patrol_need_fix": "巡查打卡需要本机定位：请允许定位权限，到室外或窗边后重试。",
            "patrol_saved": "已打卡（{time}），正在发送……",
            "patrol_saved_offline": "已打卡（{time}）：当前无网络，已保存在本机，恢复网络后"
            "自动发送。",
            "patrols_count": "{n} 次",
            "patrols_none": "今日尚未打卡",
            "patrol_outside": "非本人网格",
            "patrol_grids": "本人网格今日已巡查 {n}/{all}（地图上绿色）",
            "patrol_no_grid": "不在网格内",
            "patrols_sent": "已发送 {n} 次巡查打卡。",
            "too_many_patrol_photos": f"每次打卡最多 {MAX_PER_PATROL} 张照片。",
            "patrol_photo": "巡查照片",
            "track_status": "轨迹：已记录 {n} 个点，巡查约 {m} 米",
            "track_paused": "无法定位：轨迹暂停记录，定位恢复后继续。",
            "track_fast": f"快于每小时 {TRACK_MAX_KMH} 公里（乘车或定位漂移），不计入巡查里程",
        },
    },
    "en": {
        "html": {
            "title": "Field reports",
            "map": "Map of my grids",
            "place_search": "Find a place: village, grid",
            "kind": "Kind",
            "hazard": "Safety hazard",
            "dispute": "Dispute",
            "category": "Category",
            "source": "Source",
            "choose_source": "Choose where it came from",
            "source_ref": "Its number there",
            "source_ref_hint": "12345 work order … (optional)",
            "coords": "Coordinates",
            "coords_hint": "longitude,latitude (paste)",
            "coords_use": "Locate by them",
            "by_region_found": "Place not known: file it under the place found",
            "choose_datum": "From which map?",
            "datum_wgs84": "GPS / Tianditu (WGS84)",
            "datum_gcj02": "Amap, Tencent (GCJ-02)",
            "datum_bd09": "Baidu (BD-09)",
            "description": "What happened",
            "hint": "When, where, who and what — briefly",
            "on_site": "Settled on the spot",
            "on_site_hint": "How: both sides agreed after mediation, an agreement signed …",
            "on_site_grave": "A matter of this kind is for the center, not to settle on the spot",
            "parties": "People involved (optional)",
            "parties_note": "names, phones and ID numbers are stored encrypted and shown masked",
            "add_party": "+ Add a person",
            "locate": "Use my location",
            "nowhere": "No position yet (or tap the map)",
            "photos": "Photos (up to 6)",
            "add_photo": "+ Take or choose photos",
            "submit": "Submit report",
            "queue": "Waiting to send",
            "queue_note": "(kept on this phone without signal, sent when the connection returns)",
            "mine": "My reports",
            "patrol": "Patrol check-in",
            "patrol_note": "What you saw (optional)",
            "patrol_hint": "e.g. shop fire exits clear, nothing unusual",
            "check_in": "Check in",
            "add_patrol_photo": f"+ Photo of what you saw (optional, up to {MAX_PER_PATROL})",
            "patrols_today": "Today's patrol",
            "track_record": "Record my route (while this page is open; sent with the next "
            "check-in)",
            "grid_open": "Open cases in my grids",
            "grid_open_note": (
                "(not settled yet, from every channel: hotline, walk-ins …; the resolved ones "
                "wait for you to verify them on the spot)"
            ),
            "unplaced": "Place not known yet",
            "unplaced_note": (
                "(cases of my village filed by its name, the spot unknown: give it once there)"
            ),
            "other": "中文",
            "logout": "Log out",
        },
        "js": {
            "online": "Online",
            "offline": "Offline",
            "rejected": "Rejected",
            "photos_refused": "Photos refused",
            "photos_refused_detail": (
                "Case {code} is registered, but its photos were refused: {reason}"
            ),
            "photos_pending": "Photos waiting",
            "queued": "Waiting",
            "delete": "Delete",
            "none": "None",
            "others_waiting": (
                "Kept on this phone until their account logs in: {n} reports of another account."
            ),
            "no_reports": "None yet",
            "overdue": "overdue",
            "grid_open_count": "{n}",
            "grid_open_late": "{n}, {late} overdue",
            "grid_open_verify": ", {n} to verify",
            "grid_open_verify_late": ", {n} to verify ({late} overdue)",
            "to_verify": "To verify",
            "repeat_mark": "repeat",
            "repeat_title": "Repeat warning: the same place or resident again and again",
            "duplicate_mark": "duplicate?",
            "duplicate_title": "May duplicate a case nearby: the center is to settle it",
            "verify_late": "verification overdue",
            "verify_due": "verify by {time}",
            "grid_open_kept": "No connection: the list as read at {time}.",
            "verify_open": "Verify on the spot",
            "note_open": "Note what you found",
            "note_hint": "What you found: visited; both sides agree to mediation on Wednesday …",
            "note_save": "Save the note",
            "note_need": "Write what you found.",
            "note_saved": "Note saved, sending …",
            "note_saved_offline": (
                "Note kept on this phone: it is sent when the connection returns."
            ),
            "note_item": "Note",
            "notes_sent": "{n} notes sent.",
            "verify_hint": "What you found (required if not put right): the stairwell is cleared …",
            "verify_yes": "Put right",
            "verify_no": "Not put right",
            "verify_need_note": "Not put right: say what you found first.",
            "verify_item": "Verification",
            "verify_queued": "Verification saved, waiting to be sent",
            "verify_saved": "Verification saved, sending …",
            "verify_saved_offline": (
                "Verification saved on this phone; sent when the signal returns."
            ),
            "verify_sent": "{n} verifications sent.",
            "verify_add_photo": f"+ Photo of how it is now (optional, up to {VERIFY_MAX_PHOTOS})",
            "too_many_verify_photos": f"Up to {VERIFY_MAX_PHOTOS}: the others were left out.",
            "mine_offline": "No connection: shown when it returns.",
            "sent": "{n} reports sent.",
            "position": "Longitude {lon}, latitude {lat}",
            "accuracy": " (accurate to about {m} m)",
            "picked": " (picked on the map)",
            "typed": " (typed, {datum})",
            "by_region": "Place not known: file it under {name}",
            "by_region_set": "Place not known: filed under {name} (on no map; its center "
            "handles it)",
            "bad_coords": "Type two numbers, longitude,latitude: 113.930512,22.540213, say.",
            "choose_datum": "Choose which map the coordinates are from (Amap's, Tencent's and "
            "Baidu's lie hundreds of metres from GPS's).",
            "place_none": "Nothing found: try other words, or a village or grid code",
            "place_offline": "No network: places cannot be searched now",
            "no_geolocation": "This device cannot locate itself; tap your position on the map.",
            "locating": "Locating …",
            "locate_failed": "Could not locate: allow location access, or tap the map.",
            "unplaced_here": "It is here: give my position",
            "unplaced_tap": "Tap it on the map",
            "unplaced_tap_now": (
                "Tap the place of case {code} on the map (press Tap it on the map again to cancel)."
            ),
            "unplaced_done": "Case {code}: place given, in grid {grid}.",
            "unplaced_saved": "Position kept, sending …",
            "unplaced_saved_offline": (
                "Position kept on this phone: it is sent when the connection returns."
            ),
            "unplaced_queued": "Position kept, waiting to be sent",
            "locate_item": "Place given",
            "unplaced_no_fix": "Could not locate: allow location access, and try in the open.",
            "need_position": "Get your position first (or tap the map).",
            "need_description": "Describe what happened.",
            "merged": "Merged",
            "merged_into": "The same matter as case {code}, which carries it",
            "need_on_site": 'Say how it was settled on the spot (or untick "Settled on the spot").',
            "need_source": "Choose where the case came from (walk-in, 12345 hotline …).",
            "too_many_photos": "At most 6 photos.",
            "party_role": "Role",
            "party_name": "Name",
            "party_phone": "Phone",
            "party_id_card": "ID-card number (optional)",
            "remove_party": "Remove",
            "too_many_parties": "At most {n} people.",
            "bad_party_phone": (
                "Person {n}: not a phone number (an 11-digit mobile or a landline with area code)."
            ),
            "bad_party_id_card": (
                "Person {n}: not an ID-card number (18 characters, the last may be X); please "
                "check it."
            ),
            "remove_photo": "Remove",
            "saved_sending": "Saved; sending …",
            "saved_offline": "No connection: kept on this phone, sent when it returns.",
            "save_failed": "Could not save: this phone's storage is unavailable.",
            "session_expired": (
                "Your session has ended. Submit the report you are writing first: it is kept on "
                "this phone and sent once you log in again."
            ),
            "login_again": "Log in again",
            "draft_restored": "Restored what you had not submitted yet.",
            "patrol_draft_restored": "Restored the photos and note of a check-in not made yet.",
            "saving": "Preparing the photos and saving…",
            "saved_logged_out": "Kept on this phone: sent once you log in again.",
            "logout_offline": "No network: you cannot log out until it returns.",
            "patrol_item": "Patrol check-in",
            "patrol_locating": "Locating; checking in once located …",
            "patrol_need_fix": (
                "A check-in needs this phone's position: allow location access, step outside or "
                "to a window, and try again."
            ),
            "patrol_saved": "Checked in ({time}); sending …",
            "patrol_saved_offline": (
                "Checked in ({time}): no connection, kept on this phone and sent when it returns."
            ),
            "patrols_count": "{n}",
            "patrols_none": "No check-in yet today",
            "patrol_outside": "not your grid",
            "patrol_grids": "Your grids walked today: {n} of {all} (green on the map)",
            "patrol_no_grid": "outside the grids",
            "patrols_sent": "{n} check-ins sent.",
            "too_many_patrol_photos": f"At most {MAX_PER_PATROL} photos a check-in.",
            "patrol_photo": "Patrol photo",
            "track_status": "Route: {n} points, about {m} m on patrol",
            "track_paused": "No position: the route is paused until one comes back.",
            "track_fast": f"Faster than {TRACK_MAX_KMH} km/h (a ride, or the position jumping): "
            "not counted as patrolled",
        },
    },
}


@lru_cache
def service_worker() -> str:
    """The phone page's service worker (``phone-sw.js``) with the files it keeps and their
    version: a checksum of those files and of itself, so that a change to any of them installs
    a new worker, which keeps the new files and drops the old ones."""
    urls = [asset_url(name) for name in OFFLINE_ASSETS]
    source = (OWN_DIR / "phone-sw.js").read_text(encoding="utf-8")
    digest = hashlib.sha256(source.encode())
    for url in urls:
        path = asset_path(url)
        assert path is not None, url
        digest.update(path.read_bytes())
    return (
        '"use strict";\n'
        f"var VERSION = {json.dumps(digest.hexdigest()[:16])};\n"
        f"var ASSETS = {json.dumps(urls)};\n" + source
    )


def phone_page(
    user: str,
    grid_codes: list[str] | None,
    bounds: tuple[float, float, float, float] | None,
    links: list[tuple[str, str]] | None = None,
    lang: str = "zh",
    account: str | None = None,
    desk: bool = False,
    base: BaseMapSpec | None = None,
    patrol: bool = False,
    grid_names: dict[str, str] | None = None,
    verify: bool = False,
    password_expires: datetime | None = None,
    note: bool = False,
) -> str:
    """``user``: the name shown; ``account``: the login, which the phone's queue keeps with each
    report (a phone shared by two workers sends each one's reports under their own account);
    ``desk``: a center's desk, which registers cases from residents at the desk, the 12345
    hotline, 110 and so on: the form asks where each came from (案件来源; a grid worker's
    reports are the grid worker's own);
    ``grid_codes``: the worker's own grids (highlighted; None for a center's desk), and
    ``grid_names`` their names by code (the lists name them: 兴沙社区第1网格);
    ``links``: (label, path) of the other pages the user may open; ``lang``: ``zh`` or ``en``
    (the page, what its script writes, the category names and the API's messages); ``base``:
    the deployment's base map (streets to tap one's position on, while there is signal), its
    grids and positions drawn where its tiles show them (GCJ-02 tiles: shifted), and a tap on it
    taken back to WGS 84; ``patrol``: the user checks in on patrol (巡查打卡: a grid worker),
    from the phone's own position, queued offline like reports; ``verify``: the user verifies
    the resolved cases of their grids on the spot (现场核查), queued offline too;
    ``password_expires``: when the password expires, said above the map in its last two weeks
    (the next login after it asks for a new one)."""
    lang = "en" if lang == "en" else "zh"
    t = TEXT[lang]["html"]
    config = {
        "account": account,
        "grids": grid_codes,
        "grid_names": grid_names or {},
        "bounds": bounds,
        "lang": lang,
        "text": TEXT[lang]["js"],
        "states": STATE_NAMES_EN if lang == "en" else STATE_NAMES,
        "batch_max": MAX_BATCH,  # the most reports one batch may carry: the rest go next
        "send_timeout_ms": SEND_TIMEOUT_MS,
        "slow_link_bytes_per_s": SLOW_LINK_BYTES_PER_S,
        "sync_interval_ms": SYNC_INTERVAL_MS,
        "mine_refresh_ms": MINE_REFRESH_MS,
        "photo_max_px": PHOTO_MAX_PX,
        "photo_keep_bytes": PHOTO_KEEP_BYTES,
        "photo_quality": PHOTO_QUALITY,
        "max_photos": MAX_PER_CASE,
        "max_parties": MAX_PARTIES,
        "on_site_severities": list(ON_SITE_SEVERITIES),  # 就地化解: the intake's own rule
        "patrol": patrol,  # 巡查打卡
        "can_verify": verify,  # 现场核查
        "can_note": note,  # 现场记录 (办理记录) on my grids' cases
        "verify_max_photos": VERIFY_MAX_PHOTOS,
        "patrol_batch_max": PATROL_MAX_BATCH,
        "patrol_max_photos": MAX_PER_PATROL,
        # 巡查轨迹: a point kept when the phone has moved this far with a fix this good; at
        # most as many as a check-in may carry (the oldest dropped first)
        "track_step_m": TRACK_STEP_M,
        "track_min_accuracy_m": TRACK_MIN_ACCURACY_M,
        "track_max_points": TRACK_MAX_POINTS,
        "track_max_hours": TRACK_MAX_HOURS,
        # its length as the server counts it (巡查里程): stretches no faster than an e-bike
        "track_max_mps": TRACK_MAX_KMH / 3.6,
        # (the first: the role a new row starts with, the one a worker knows least about)
        "party_roles": [
            [role, (PARTY_ROLES_EN if lang == "en" else PARTY_ROLES)[role]]
            for role in ("party", "applicant", "respondent", "reporter", "witness")
        ],
        "service_worker": SERVICE_WORKER_URL,
        "tiles": {
            "url": base.url,
            "subdomains": base.subdomains,
            "attribution": base.attribution or "",
            "datum": base.datum,
        }
        if base is not None and base.url
        else None,
    }
    nav = "".join(f'<a href="{escape(path)}">{escape(label)}</a>' for label, path in links or [])
    source = coords = ""
    if desk:
        options = "".join(
            f'<option value="{code}">{escape(names[1 if lang == "en" else 0])}</option>'
            for code, names in SOURCE_NAMES.items()
        )
        # (none chosen beforehand: coordinates from 高德 taken as GPS's land 300–500 m off, in
        # another grid — the datum trap; the desk says which app gave them)
        datums = f'<option value="">{t["choose_datum"]}</option>' + "".join(
            f'<option value="{d}">{t["datum_" + d]}</option>' for d in ("wgs84", "gcj02", "bd09")
        )
        source = (
            f'\n  <label>{t["source"]} <select name="source" required>'
            f'<option value="">{t["choose_source"]}</option>{options}</select></label>'
            f'\n  <label>{t["source_ref"]} <input name="source_ref" maxlength="64" '
            f'autocomplete="off" placeholder="{t["source_ref_hint"]}"></label>'
        )
        # where a call or a work order says it happened: its coordinates, as picked off a map
        # app (most of them are not WGS 84: the datum is said with them)
        coords = (
            f'\n  <div class="m-row m-coords"><label>{t["coords"]} <input name="coords" '
            f'inputmode="decimal" autocomplete="off" placeholder="{t["coords_hint"]}"></label>'
            f'<select name="coords_datum" aria-label="{t["coords"]}">{datums}</select>'
            f'<button type="button" id="use-coords">{t["coords_use"]}</button></div>'
            # no one can show the place (a caller, a resident at the desk): the village or
            # street found with 地名查找 above, filed by it (shown once one is found)
            '\n  <div class="m-row m-by-region" hidden><button type="button" id="use-region">'
            f"{t['by_region_found']}</button></div>"
        )
    # a grid worker's own grids' open cases: what the hotline and the desks registered there too
    grid_open = (
        f'\n  <h2>{t["grid_open"]} <b id="grid-open-count" class="m-count"></b> '
        f"<small>{t['grid_open_note']}</small></h2>"
        '\n  <ul id="grid-open"></ul>'
        # and the cases of the village filed by its name (no one could say where): the worker
        # goes to find the place and gives it, standing there
        f"\n  <h2>{t['unplaced']} <small>{t['unplaced_note']}</small></h2>"
        '\n  <ul id="unplaced"></ul>'
        if grid_codes
        else ""
    )
    # 巡查打卡: a line on what was seen, a button; today's check-ins below it
    patrol_section = (
        f'''
<section id="patrol" class="m-patrol">
  <h2>{t["patrol"]}</h2>
  <div class="m-row">
    <label>{t["patrol_note"]}
      <input name="patrol_note" maxlength="{PATROL_NOTE_MAX}" autocomplete="off"
        placeholder="{t["patrol_hint"]}"></label>
    <button type="button" id="check-in" class="m-check-in m-ico m-ico-pin">{t["check_in"]}</button>
  </div>
  <div class="m-photos">
    <label class="m-add-photo">{t["add_patrol_photo"]}
      <input type="file" name="patrol_photos" accept="image/jpeg,image/png,image/webp" multiple>
    </label>
    <ul id="patrol-chosen" class="m-chosen"></ul>
  </div>
  <label class="m-track"><input type="checkbox" id="track-record"> {t["track_record"]}</label>
  <p id="track-status" class="m-track-status" role="status"></p>
  <p id="patrol-message" class="m-message" role="status"></p>
  <h3>{t["patrols_today"]} <b id="patrol-count" class="m-count"></b></h3>
  <p id="patrol-grids" class="m-patrol-grids"></p>
  <ul id="patrols" class="m-patrols"></ul>
</section>'''
        if patrol
        else ""
    )
    other = "zh" if lang == "en" else "en"
    return f"""<!DOCTYPE html>
<html lang="{"en" if lang == "en" else "zh-CN"}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="theme-color" content="#b03a2e">
<title>{t["title"]} · 网格 wangge</title>
<link rel="icon" type="image/svg+xml" href="{asset_url("favicon.svg")}">
<link rel="stylesheet" href="{asset_url("leaflet_css")}">
<link rel="stylesheet" href="{asset_url("phone.css")}">
</head>
<body>
<header class="m-bar">
  <h1>{t["title"]}</h1>
  <span class="m-user">{escape(user)}</span>
  <a id="logout" class="m-logout" href="/login?next=/m/">{t["logout"]}</a>
  <a class="m-lang" href="?lang={other}" hreflang="{other}" lang="{other}">{t["other"]}</a>
  <span id="net" class="m-net" role="status">{TEXT[lang]["js"]["online"]}</span>
</header>
{f'<nav class="m-nav">{nav}</nav>' if nav else ""}{_expiry_notice(password_expires, lang)}{
        _no_grids_notice(lang) if grid_codes == [] else ""
    }
<main>
<div class="m-places">
  <input type="search" id="place" name="place" autocomplete="off"
    aria-label="{t["place_search"]}" placeholder="{t["place_search"]}">
  <ul id="place-list" class="wg-place-list" hidden></ul>
</div>
<div id="map" class="m-map" aria-label="{t["map"]}"></div>{patrol_section}
<form id="report" class="m-form" novalidate>
  <div class="m-row">
    <label>{t["kind"]}
      <select name="kind" required>
        <option value="hazard">{t["hazard"]}</option>
        <option value="dispute">{t["dispute"]}</option>
      </select>
    </label>
    <label>{t["category"]} <select name="category" required></select></label>
  </div>{source}
  <label>{t["description"]}
    <textarea name="description" rows="3" maxlength="2000" required
      placeholder="{t["hint"]}"></textarea>
  </label>
  <fieldset class="m-onsite">
    <label class="m-check"><input type="checkbox" name="on_site"> {t["on_site"]}</label>
    <small id="on-site-grave" hidden>{t["on_site_grave"]}</small>
    <textarea name="on_site_resolution" rows="2" maxlength="2000" hidden
      aria-label="{t["on_site"]}" placeholder="{t["on_site_hint"]}"></textarea>
  </fieldset>
  <fieldset class="m-parties">
    <legend>{t["parties"]} <small>{t["parties_note"]}</small></legend>
    <ul id="parties"></ul>
    <button type="button" id="add-party" class="m-add-party">{t["add_party"]}</button>
  </fieldset>
  <div class="m-row">
    <button type="button" id="locate" class="m-ico m-ico-pin">{t["locate"]}</button>
    <span id="where" class="m-where">{t["nowhere"]}</span>
  </div>{coords}
  <div class="m-photos">{t["photos"]}
    <label class="m-add-photo">{t["add_photo"]}
      <input type="file" name="photos" accept="image/jpeg,image/png,image/webp" multiple>
    </label>
    <ul id="chosen" class="m-chosen"></ul>
  </div>
  <button type="submit" class="m-submit">{t["submit"]}</button>
  <p id="message" class="m-message" role="alert"></p>
</form>
<section class="m-list">
  <h2>{t["queue"]} <small>{t["queue_note"]}</small></h2>
  <ul id="queue"></ul>
  <h2>{t["mine"]}</h2>
  <ul id="mine"></ul>{grid_open}
</section>
</main>
<script id="config" type="application/json">{escape(json.dumps(config), quote=False)}</script>
<script src="{asset_url("leaflet")}"></script>
<script src="{asset_url("wangge.js")}"></script>
<script src="{asset_url("places.js")}"></script>
<script src="{asset_url("phone.js")}"></script>
</body>
</html>
"""


def _no_grids_notice(lang: str) -> str:
    """The line that says a grid worker has no grid yet: every report would be refused."""
    from gis.intake import NO_GRIDS

    said = NO_GRIDS[1] if lang == "en" else NO_GRIDS[0]
    return f'\n<p class="m-notice" id="no-grids" role="status">{escape(said)}</p>'


def _expiry_notice(expires: datetime | None, lang: str) -> str:
    """The line that says the password expires soon (its last two weeks), with a link to
    我的账号; nothing before then."""
    from maps.users import EXPIRY_WARNING_DAYS

    if expires is None or expires - datetime.now(UTC) > timedelta(days=EXPIRY_WARNING_DAYS):
        return ""
    day = f"{expires.astimezone(SHANGHAI):%m-%d}"
    said = (
        f'Your password expires on {day}: <a href="/account">change it</a>'
        if lang == "en"
        else f'您的密码将于 {day} 到期，<a href="/account">请及时修改</a>'
    )
    return f'\n<p class="m-notice" id="password-soon" role="status">{said}</p>'
