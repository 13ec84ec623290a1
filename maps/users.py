"""The administrator's page of user accounts (用户管理): find, add, edit, reset, disable,
unlock.

A plain page: the accounts of the administrator's jurisdiction in a table with a filter form,
and a form to add one.  ``users.js`` sends each change to ``/api/users…`` and shows the answer —
a password set at random is shown there once (it is stored only as a hash).  Chinese first,
English as the second locale.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from html import escape
from math import ceil
from urllib.parse import urlencode

from gis.auth import OwnSession, device_name
from gis.passwords import MIN_LENGTH
from gis.permissions import ROLE_NAMES, ROLE_NAMES_EN, Role
from gis.users import LIST_LIMIT, Account, RecoveryCodes
from gis.worktime import SHANGHAI
from maps.assets import asset_url
from maps.pages import _case_page_head, _tr, language_switch, nav_line

#: 用户管理's choices of 久未使用 (enabled accounts unused for so many days)
IDLE_CHOICES = (30, 90, 180, 365)
#: how many days before a password expires its account page says so
EXPIRY_WARNING_DAYS = 14


def _when(at: object) -> str:
    return f"{at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}" if at else "—"  # type: ignore[attr-defined]


def users_page(
    accounts: Sequence[Account],
    *,
    me: str,
    user: str,
    links: list[tuple[str, str]],
    filters: dict[str, str],
    roles: Sequence[Role],
    lang: str = "zh",
    password_max_days: float = 0,
) -> str:
    """The page; ``accounts``: those the filters found; ``me``: the administrator's user name
    (no button disables it); ``roles``: the roles the administrator may give;
    ``password_max_days``: a password's life (0: for ever), past which an account's state says
    so (its next login must change it)."""
    now = datetime.now(UTC)
    t = _tr(lang)
    names = ROLE_NAMES_EN if lang == "en" else ROLE_NAMES

    def state(a: Account) -> str:
        said = _state(a)
        return said + (f"<small>{t('动态口令', 'one-time code')}</small>" if a.otp_enabled else "")

    def _state(a: Account) -> str:
        if a.disabled:
            return f'<span class="wg-overdue">{t("已停用", "disabled")}</span>'
        if a.locked_until:
            return (
                f'<span class="wg-overdue">{t("已锁定至", "locked until")} '
                f"{_when(a.locked_until)}</span>"
            )
        if a.must_change_password:
            return t("待用户改密码", "password to be changed")
        if password_max_days and a.password_changed_at + timedelta(password_max_days) <= now:
            return t("密码已到期，登录时须修改", "password expired: to be changed at login")
        return t("正常", "active")

    def buttons(a: Account) -> str:
        name = escape(a.username, quote=True)
        now = {"display_name": a.display_name or "", "role": a.role.value,
               "region": a.region_code or "", "worker": a.worker_code or ""}  # fmt: skip
        current = "".join(f' data-{k.replace("_", "-")}="{escape(v, quote=True)}"'
                          for k, v in now.items())  # fmt: skip
        out = [f'<button type="button" data-act="edit" data-user="{name}"{current}>'
               f'{t("修改", "Edit")}</button>',
               f'<button type="button" data-act="password" data-user="{name}">'
               f'{t("重设密码", "Reset password")}</button>']  # fmt: skip
        if a.locked_until:
            out.append(f'<button type="button" data-act="unlock" data-user="{name}">'
                       f'{t("解锁", "Unlock")}</button>')  # fmt: skip
        if a.otp_enabled and a.username != me:
            out.append(f'<button type="button" data-act="otp/reset" data-user="{name}">'
                       f'{t("重置动态口令", "Reset one-time code")}</button>')  # fmt: skip
        if a.disabled:
            out.append(f'<button type="button" data-act="enable" data-user="{name}">'
                       f'{t("启用", "Enable")}</button>')  # fmt: skip
        elif a.username != me:
            out.append(f'<button type="button" data-act="sessions" data-user="{name}">'
                       f'{t("登录设备", "Sessions")}</button>')  # fmt: skip
            out.append(f'<button type="button" data-act="logout" data-user="{name}">'
                       f'{t("强制下线", "Log out")}</button>')  # fmt: skip
            out.append(f'<button type="button" data-act="disable" data-user="{name}">'
                       f'{t("停用", "Disable")}</button>')  # fmt: skip
        return " ".join(out)

    # (a grid worker who answers for no grid: every report of theirs is refused)
    no_grids = (
        ' <span class="wg-flag" title="'
        + t("没有负责的网格，上报会被拒绝：请在网格档案的网格员配备中配置",
            "No grid yet, so their reports are refused: assign some on a grid's page")
        + '">'
        + t("未配网格", "no grid")
        + "</span>"
    )  # fmt: skip
    rows = "".join(
        f'<tr data-user="{escape(a.username, quote=True)}"'
        f"{' class=wg-muted' if a.disabled else ''}>"
        f"<td>{escape(a.username)}<small>{escape(a.display_name or '')}</small></td>"
        f"<td>{escape(names[a.role])}</td>"
        f"<td>{escape(a.region_name or t('全系统', 'whole deployment'))}"
        f"<small>{escape(a.region_code or '')}</small></td>"
        f"<td>{escape(a.worker_code or '—')}{no_grids if a.grids == 0 else ''}</td>"
        f"<td>{state(a)}</td><td>{_when(a.last_seen_at)}</td>"
        f"<td>{_when(a.password_changed_at)}</td><td>{buttons(a)}</td></tr>"
        for a in accounts
    )
    more = (
        t(f"（只列出前 {LIST_LIMIT} 个，请缩小范围）", f" (the first {LIST_LIMIT}; narrow it)")
        if len(accounts) >= LIST_LIMIT
        else ""
    )

    def value(name: str) -> str:
        return escape(filters.get(name, ""), quote=True)

    def role_options(chosen: str, blank: str | None) -> str:
        first = f'<option value="">{blank}</option>' if blank is not None else ""
        return first + "".join(
            f'<option value="{r.value}"{" selected" if r.value == chosen else ""}>'
            f"{escape(names[r])}</option>"
            for r in roles
        )

    edit_roles = role_options("", None)
    choices = [("", t("不限", "any"))]
    choices += [(str(d), t(f"{d} 天以上未使用", f"{d}+ days")) for d in IDLE_CHOICES]
    idle_options = "".join(
        f'<option value="{days}"{" selected" if filters.get("idle", "") == days else ""}>'
        f"{label}</option>"
        for days, label in choices
    )
    hidden = '<input type="hidden" name="lang" value="en">' if lang == "en" else ""
    query = {k: v for k, v in filters.items() if v}
    here = escape("/users" + (f"?{urlencode(query)}" if query else ""), quote=True)
    head = _case_page_head(t("用户管理", "Users") + " · 网格 wangge", noindex=True, lang=lang)
    return f"""{head}
<body class="wg-track wg-index wg-queue wg-users">
<main>
  {language_switch(lang, here)}{nav_line(links, user, lang)}
  <h1>{t("用户管理", "Users")}</h1>
  <form class="wg-filters" method="get" action="/users" role="search">
    <label>{t("用户名或姓名", "User name or name")}
      <input name="q" value="{value("q")}" maxlength="64"></label>
    <label>{t("角色", "Role")} <select name="role">{
        role_options(filters.get("role", ""), t("全部", "all"))
    }</select></label>
    <label>{t("区划代码", "Region code")}
      <input name="region" value="{value("region")}" maxlength="12" size="12"
      pattern="[0-9]{{6,12}}"></label>
    <label>{t("久未使用", "Unused")} <select name="idle">{idle_options}</select></label>{hidden}
    <button type="submit">{t("筛选", "Filter")}</button>
  </form>
  <p id="user-message" class="wg-note" role="status" aria-live="polite"></p>
  <p class="wg-error" id="user-error" role="alert"></p>
  <p>{
        t(
            f'共 <b id="user-total">{len(accounts)}</b> 个账号{more}。',
            f'<b id="user-total">{len(accounts)}</b> accounts{more}.',
        )
    }</p>
  <table tabindex="0" class="wg-list wg-queue-table" id="users">
    <thead><tr><th>{t("用户名 · 姓名", "User · name")}</th><th>{t("角色", "Role")}</th>
      <th>{t("所属区划", "Region")}</th><th>{t("网格员编码", "Worker code")}</th>
      <th>{t("状态", "State")}</th><th>{t("最近使用", "Last seen")}</th>
      <th>{t("密码修改于", "Password set")}</th><th>{t("操作", "Actions")}</th></tr></thead>
    <tbody>{rows}</tbody>
  </table>
  <form id="user-edit" class="wg-filters" hidden>
    <h2>{t("修改用户", "Edit user")} <span id="user-edit-name"></span></h2>
    <label>{t("姓名", "Name")} <input name="display_name" maxlength="64"></label>
    <label>{t("角色", "Role")} <select name="role" required>{edit_roles}</select></label>
    <label>{t("区划代码", "Region code")} <input name="region" maxlength="12" size="12"
      pattern="[0-9]{{6,12}}"></label>
    <label>{t("网格员编码", "Worker code")} <input name="worker" maxlength="20" size="14"></label>
    <button type="submit">{t("保存", "Save")}</button>
    <button type="button" id="user-edit-cancel">{t("取消", "Cancel")}</button>
    <small>{
        t(
            "改变角色或区划会使该用户已登录的会话失效。",
            "A new role or region ends the user's sessions.",
        )
    }</small>
  </form>
  <section id="user-sessions" hidden>
    <h2>{t("登录设备", "Sessions")} <span id="user-sessions-name"></span></h2>
    <p class="wg-note">{
        t(
            "该账号仍有效的登录，最近使用的在前。结束其中一处（如丢失的手机），该设备须重新登录，"
            "其他设备不受影响。",
            "The account's sessions in force, the most recently used first. Ending one (a lost "
            "phone) makes that device log in again and leaves the others.",
        )
    }</p>
    <table tabindex="0" class="wg-list wg-queue-table">
      <thead><tr><th>{t("设备", "Device")}</th><th>{t("登录于", "Logged in")}</th>
        <th>{t("最近使用", "Last used")}</th><th>{t("登录地址", "Address")}</th>
        <th>{t("到期", "Ends")}</th><th>{t("操作", "Actions")}</th></tr></thead>
      <tbody id="user-sessions-rows"></tbody>
    </table>
    <p id="user-sessions-none" hidden>{t("该账号没有有效的登录。", "No session in force.")}</p>
    <p class="wg-error" id="user-sessions-error" role="alert"></p>
    <button type="button" id="user-sessions-close">{t("关闭", "Close")}</button>
  </section>
  <h2>{t("新建用户", "Add a user")}</h2>
  <form id="user-add" class="wg-filters">
    <label>{t("用户名", "User name")} <input name="username" required maxlength="64"
      pattern="[A-Za-z0-9_.\\-]{{2,64}}" autocapitalize="none" spellcheck="false"></label>
    <label>{t("姓名", "Name")} <input name="display_name" maxlength="64"></label>
    <label>{t("角色", "Role")} <select name="role" required>{
        role_options("", None)
    }</select></label>
    <label>{t("区划代码", "Region code")} <input name="region" maxlength="12" size="12"
      pattern="[0-9]{{6,12}}" placeholder="{t("默认：您的区划", "default: yours")}"></label>
    <label>{t("网格员编码", "Worker code")} <input name="worker" maxlength="20" size="14"
      placeholder="{t("网格员可填", "grid workers")}"></label>
    <label>{t("密码", "Password")} <input name="password" type="password" maxlength="256"
      autocomplete="new-password" placeholder="{
        t("留空则随机生成", "empty: a random one")
    }"></label>
    <button type="submit">{t("新建", "Add")}</button>
  </form>
  <p class="wg-note">{
        t(
            "随机生成的初始密码只显示这一次，请当面或通过安全渠道交给本人。重设密码、停用账号都会使该用户"
            "已登录的会话立即失效；所有操作记入审计日志。",
            "A random initial password is shown this once: hand it over in person or by a safe "
            "channel. Resetting a password or disabling an account ends the user's sessions "
            "at once; every change is in the audit log.",
        )
    }</p>
</main>
<script src="{asset_url("session.js")}"></script>
<script src="{asset_url("users.js")}"></script>
</body>
</html>"""


def account_page(
    *,
    username: str,
    display_name: str | None,
    role: Role,
    region: str | None,
    user: str,
    links: list[tuple[str, str]],
    must_change: bool = False,
    home: str = "/",
    lang: str = "zh",
    sessions: Sequence[OwnSession] = (),
    expired: bool = False,
    expires_at: datetime | None = None,
    otp_enabled: bool = False,
    otp_locked: bool = False,
    recovery: RecoveryCodes | None = None,
    via_recovery: bool = False,
) -> str:
    """A user's own page (我的账号): who they are logged in as, and a form to change their
    password (``account.js`` sends it to ``POST /api/auth/password``).  ``must_change``: the
    password was set by someone else and nothing else works until it is changed; then the
    page leads on to ``home``; ``expired``: the same for a password past ``expires_at``, which
    the page gives (and warns of in its last :data:`EXPIRY_WARNING_DAYS`).  ``sessions``:
    where the user is logged in (我的登录), each but this one with a button that ends it
    (``DELETE /api/auth/sessions/{id}``).  动态口令: set up (``otp_enabled`` False) or turned
    off, unless the role must use it (``otp_locked``: then, without it, nothing else works
    until it is set up, and it cannot be turned off); its 备用验证码 (``recovery``: how many are
    left, made anew with the password and a code); ``via_recovery``: the login that led here
    used one (the phone lost?)."""
    t = _tr(lang)
    names = ROLE_NAMES_EN if lang == "en" else ROLE_NAMES
    head = _case_page_head(t("我的账号", "My account") + " · 网格 wangge", noindex=True, lang=lang)
    rows = [
        (t("用户名", "User name"), username),
        (t("姓名", "Name"), display_name or "—"),
        (t("角色", "Role"), names[role]),
        (t("所属区划", "Region"), region or t("全系统", "whole deployment")),
    ]
    if expires_at is not None:
        rows.append((t("密码有效期至", "Password valid until"), _when(expires_at)))
    facts = "".join(f"<dt>{label}</dt><dd>{escape(value)}</dd>" for label, value in rows)
    first = ""
    if must_change:
        first = t(
            "您的密码由管理员设置（或为初始密码）。请先修改密码，然后才能使用系统。",
            "Your password was set by an administrator (or is an initial one). Change it "
            "before anything else.",
        )
    elif expired:
        first = t(
            "您的密码已到期：按安全规定，密码须定期更换。请先修改密码，然后才能继续使用系统。",
            "Your password has expired: passwords must be changed regularly. Change it before "
            "anything else.",
        )
    elif otp_locked and not otp_enabled:
        first = t(
            "您的角色须使用动态口令登录：请先在下方开启动态口令，然后才能使用系统。",
            "Your role logs in with a one-time code: set it up below before anything else.",
        )
    if first:
        first = f'<p class="wg-error" id="password-first">{first}</p>'
    elif expires_at is not None:
        left = (expires_at - datetime.now(UTC)).total_seconds() / 86400
        if left <= EXPIRY_WARNING_DAYS:
            first = '<p class="wg-error" id="password-soon">' + t(
                f"您的密码将于 {_when(expires_at)} 到期（还剩不到 {max(1, ceil(left))} 天），"
                "请及时修改。",
                f"Your password expires on {_when(expires_at)} (in less than "
                f"{max(1, ceil(left))} days): change it soon.",
            ) + "</p>"  # fmt: skip
    onward = (
        f' <a href="{escape(home, quote=True)}">{t("继续使用", "Continue")}</a>'
        if must_change or expired
        else ""
    )
    otp = _otp_section(otp_enabled, otp_locked, home, t, recovery, via_recovery)
    return f"""{head}
<body class="wg-track wg-index wg-account">
<main>
  {language_switch(lang, "/account")}{nav_line(links, user, lang)}
  <h1>{t("我的账号", "My account")}</h1>
  {first}<dl class="wg-facts">{facts}</dl>
  <h2>{t("修改密码", "Change the password")}</h2>
  <form id="password-form" class="wg-stack">
    <label>{t("当前密码", "Current password")}
      <input name="current_password" type="password" required autocomplete="current-password"
      maxlength="256"></label>
    <label>{t("新密码", "New password")}
      <input name="new_password" type="password" required autocomplete="new-password"
      minlength="{MIN_LENGTH}" maxlength="256"></label>
    <label>{t("再输入一次新密码", "The new password again")}
      <input name="repeat" type="password" required autocomplete="new-password"
      maxlength="256"></label>
    <button type="submit">{t("修改密码", "Change the password")}</button>
  </form>
  <p class="wg-error" id="password-error" role="alert"></p>
  <p class="wg-note" id="password-done" role="status" hidden>{
        t(
            "密码已修改。您在其他设备上的登录已失效，本页面的登录保持有效。",
            "The password is changed. Your sessions on other devices have ended; this one stays.",
        )
    }{onward}</p>
  <p class="wg-note">{
        t(
            f"新密码至少 {MIN_LENGTH} 个字符，含小写字母、大写字母、数字、符号中的至少三类，"
            "不能包含用户名，也不能是常见密码。",
            f"At least {MIN_LENGTH} characters of three kinds (lower case, upper case, digits, "
            "symbols), without the user name, and not a common password.",
        )
    }</p>
  {otp}
  {_own_sessions(sessions, lang)}
</main>
<script src="{asset_url("session.js")}"></script>
<script src="{asset_url("account.js")}"></script>
</body>
</html>"""


def _own_sessions(sessions: Sequence[OwnSession], lang: str) -> str:
    """我的登录: the user's sessions in force, the most recently used first; each but this one
    with 退出该登录 (a wall screen or a phone left logged in elsewhere)."""
    if not sessions:
        return ""
    t = _tr(lang)

    def at(value: datetime) -> str:
        return f"{value.astimezone(SHANGHAI):%Y-%m-%d %H:%M}"

    rows = []
    for s in sessions:
        end = (
            f'<span class="wg-current">{t("本设备", "This one")}</span>'
            if s.current
            else f'<button type="button" class="wg-end-session" data-session="{s.id}">'
            f"{t('退出该登录', 'End it')}</button>"
        )
        rows.append(
            f'<tr data-session="{s.id}"><td>{at(s.created_at)}</td><td>{at(s.last_seen_at)}</td>'
            f"<td>{escape(device_name(s.user_agent, lang))}</td><td>{at(s.expires_at)}</td>"
            f"<td>{escape(s.source_ip or '—')}</td><td>{end}</td></tr>"
        )
    head = "".join(
        f"<th>{t(zh, en)}</th>"
        for zh, en in (
            ("登录时间", "Logged in"),
            ("最近使用", "Last used"),
            ("设备", "Device"),
            ("最晚到期", "Ends at the latest"),
            ("登录地址", "Address"),
            ("操作", "Action"),
        )
    )
    return f"""<h2>{t("我的登录", "Where I am logged in")}</h2>
  <p class="wg-note">{
        t(
            "以下是您账号当前有效的登录（含大屏、手机）。不在身边的设备可在此退出。",
            "Your sessions in force, the wall screen and phones included. End one you are not at "
            "from here.",
        )
    }</p>
  <table tabindex="0" class="wg-list wg-queue-table" id="own-sessions">
  <thead><tr>{head}</tr></thead>
  <tbody>{"".join(rows)}</tbody></table>
  <p class="wg-error" id="session-error" role="alert"></p>"""


def _otp_section(  # type: ignore[no-untyped-def]
    enabled: bool,
    locked: bool,
    home: str,
    t,
    recovery: RecoveryCodes | None = None,
    via_recovery: bool = False,
) -> str:
    """我的账号's 动态口令: on (its 备用验证码 left, a form to make new ones, and one to turn it off
    unless the role must keep it), or a button that sets it up (``account.js``: the password,
    then the QR code for an authenticator app and a code of it to confirm, then the recovery
    codes, shown once)."""
    apps = t(
        "动态口令：登录时除密码外，还须输入手机身份验证器（如腾讯身份验证器、Google "
        "Authenticator、Microsoft Authenticator）显示的 6 位数字，密码泄露也无法登录。",
        "One-time code: at login, besides the password, the 6 digits an authenticator app on "
        "your phone shows (Google Authenticator, Microsoft Authenticator, FreeOTP …): a leaked "
        "password alone no longer logs in.",
    )
    if enabled:
        if locked:
            off = (
                '<p class="wg-note">'
                + t(
                    "您的角色须使用动态口令，不能关闭；换手机请请管理员重置。",
                    "Your role must use it: it cannot be turned off. For a new phone, ask an "
                    "administrator to reset it.",
                )
                + "</p>"
            )
        else:
            off = f"""<details id="otp-off-box">
    <summary>{t("关闭动态口令", "Turn it off")}</summary>
    <form id="otp-off" class="wg-stack">
    {_password_and_code(t)}
    <button type="submit">{t("关闭动态口令", "Turn it off")}</button>
  </form></details>"""
        body = f"""<p id="otp-state"><b>{t("已开启", "On")}</b></p>
  {_recovery_part(recovery, via_recovery, t)}
  {off}"""
    else:
        body = f"""<p id="otp-state">{t("未开启", "Off")}</p>
  <form id="otp-setup" class="wg-stack">
    <label>{t("当前密码", "Current password")}
      <input name="password" type="password" required autocomplete="current-password"
      maxlength="256"></label>
    <button type="submit">{t("开启动态口令", "Set it up")}</button>
  </form>
  <div id="otp-confirm" hidden data-home="{escape(home, quote=True)}">
    <p>{t("用身份验证器扫描二维码（或手动输入密钥），再输入它显示的 6 位数字：",
          "Scan the QR code with your authenticator app (or type the key in), then enter the "
          "6 digits it shows:")}</p>
    <div id="otp-qr"></div>
    <p>{t("密钥", "Key")} <code id="otp-secret"></code></p>
    <form id="otp-enable" class="wg-stack">
      <label>{t("动态口令", "One-time code")}
        <input name="code" required inputmode="numeric" autocomplete="one-time-code"
        maxlength="16" pattern="[0-9 ]{{6,7}}"></label>
      <button type="submit">{t("确认开启", "Confirm")}</button>
    </form>
  </div>"""  # fmt: skip
    return f"""<h2>{t("动态口令", "One-time code")}</h2>
  <p class="wg-note">{apps}</p>
  {body}
  <p class="wg-error" id="otp-error" role="alert"></p>
  <div id="otp-codes" hidden>
    <p class="wg-error">{t(
        "请立即抄写或打印以下备用验证码，妥善保管（不要存在装有身份验证器的手机上）。"
        "手机不在身边时，登录可用其中一个代替动态口令，每个只能用一次。关闭本页后不再显示。",
        "Write these recovery codes down or print them now, and keep them safe (not on the "
        "phone with the authenticator app). Without the phone, one of them logs in instead of "
        "the code, once each. They are not shown again.")}</p>
    <ol id="otp-code-list" class="wg-codes"></ol>
    <p><button type="button" id="otp-print">{t("打印", "Print")}</button>
      <a href="/account" id="otp-codes-done">{t("我已保存", "I have kept them")}</a></p>
  </div>"""  # fmt: skip


def _password_and_code(t) -> str:  # type: ignore[no-untyped-def]
    """A form's fields for what a change of 动态口令 asks: the password, and a code now (the
    app's six digits, or a 12-digit recovery code)."""
    return f"""<label>{t("当前密码", "Current password")}
      <input name="password" type="password" required autocomplete="current-password"
      maxlength="256"></label>
    <label>{t("动态口令（或一个备用验证码）", "One-time code (or a recovery code)")}
      <input name="code" required inputmode="numeric" autocomplete="one-time-code"
      maxlength="16" pattern="[0-9 \\-]{{6,16}}"></label>"""


#: at most this many 备用验证码 left: 我的账号 asks for a new set
RECOVERY_LOW = 3


def _recovery_part(recovery: RecoveryCodes | None, via_recovery: bool, t) -> str:  # type: ignore[no-untyped-def]
    """备用验证码 on 我的账号: how many are left (a warning when few), and a form to make a new
    set (the password and a code)."""
    left = recovery.left if recovery else 0
    made = _when(recovery.made_at) if recovery and recovery.made_at else "—"
    state = t(
        f"备用验证码：剩余 {left} 个（生成于 {made}）。",
        f"Recovery codes: {left} left (made {made}).",
    )
    warn = ""
    if via_recovery:
        warn = t(
            f"您刚用备用验证码登录，还剩 {left} 个。如手机丢失或更换，请关闭动态口令后用新手机"
            "重新开启（角色须使用动态口令的，请管理员重置）。",
            f"You have just logged in with a recovery code; {left} left. If the phone is lost "
            "or changed, turn the one-time code off and set it up again on the new phone (where "
            "your role must use it, ask an administrator to reset it).",
        )
    elif left <= RECOVERY_LOW:
        warn = t(
            f"备用验证码只剩 {left} 个，请重新生成。",
            f"Only {left} recovery codes left: make a new set.",
        )
    warning = f'<p class="wg-error" id="otp-recovery-low">{warn}</p>' if warn else ""
    return f"""<p id="otp-recovery-state">{state}</p>
  {warning}
  <details id="otp-recovery"{" open" if warn else ""}>
    <summary>{t("重新生成备用验证码", "Make new recovery codes")}</summary>
    <p class="wg-note">{t("新的一组生成后，旧的备用验证码全部作废。",
                          "Once a new set is made, the old codes stop working.")}</p>
    <form id="otp-recovery-form" class="wg-stack">
      {_password_and_code(t)}
      <button type="submit">{t("重新生成", "Make new codes")}</button>
    </form>
  </details>"""  # fmt: skip
