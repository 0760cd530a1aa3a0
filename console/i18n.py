"""Every label of the console in Chinese and English; Chinese first, English one click away.

A page is rendered in one language (the ``tidegate_lang`` cookie, set by the switch in the
header; Chinese by default) and every label comes from :data:`LABELS`, so no label exists in
one language only (``tests/console/test_i18n.py`` checks the templates use known keys). Names
from the plan (districts, agencies, actions) come from the plan's own ``zh``/``en`` fields.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from fastapi import Request

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
COOKIE = "tidegate_lang"

LABELS: dict[str, tuple[str, str]] = {
    # chrome
    "app.name": ("潮闸 · 防汛防台指挥", "tidegate · flood & typhoon command"),
    "nav.board": ("态势总览", "Situation board"),
    "nav.warnings": ("预警发布", "Warnings"),
    "nav.agencies": ("单位工作台", "Agency desks"),
    "nav.drills": ("演练", "Drills"),
    "nav.plan": ("预案", "Plan"),
    "nav.api": ("接口文档", "API docs"),
    "nav.skip": ("跳到正文", "Skip to content"),
    "lang.switch": ("English", "中文"),
    "lang.switch.label": ("切换语言", "Switch language"),
    "live.connected": ("实时更新中", "Live"),
    "live.reconnecting": ("连接中断，正在重连…", "Connection lost, reconnecting…"),
    "live.updated": ("更新于", "Updated"),
    "login.title": ("登录", "Sign in"),
    "login.token": ("访问令牌", "Access token"),
    "login.submit": ("登录", "Sign in"),
    "login.wrong": ("令牌不正确", "Wrong token"),
    "login.dev_hint": (
        "开发环境令牌（已预填）：",
        "Development token (filled in for you):",
    ),
    "logout": ("退出", "Sign out"),
    "signed_in_as": ("当前用户", "Signed in as"),
    # board
    "board.title": ("防汛防台态势总览", "Flood and typhoon situation board"),
    "board.map": ("各区响应等级", "Response level by district"),
    "board.map.note": (
        "示意格网图：每格一个区，按大致地理方位排列，非真实边界。",
        "Tile map: one tile per district, placed by rough geography; not true boundaries.",
    ),
    "board.citywide": ("全市", "Citywide"),
    "board.legend": ("图例", "Legend"),
    "board.no_response": ("目前没有启动应急响应。", "No response is active."),
    "board.first_step": (
        "发布第一条预警：打开「预警发布」。",
        "Issue the first warning on the Warnings page.",
    ),
    "board.response": ("响应", "Response"),
    "board.workflow": ("工作流", "Workflow"),
    "board.workflow.running": ("运行中", "answering"),
    "board.workflow.silent": ("工作流无应答（worker 是否在运行？）", "workflow not answering"),
    "board.in_force": ("生效中的预警", "Warnings in force"),
    "board.in_force.none": ("无生效预警", "No warning in force"),
    "board.in_force.unknown": ("未知（工作流无应答）", "Unknown (the workflow did not answer)"),
    "board.tasks": ("各单位任务", "Tasks per agency"),
    "board.attention": ("超时与督办任务", "Overdue and escalated tasks"),
    "board.attention.none": ("没有超时或被督办的任务", "No overdue or escalated task"),
    "board.timeline": ("近24小时", "Last 24 hours"),
    "board.timeline.none": ("近24小时无记录", "Nothing in the last 24 hours"),
    "board.refused": ("暂存、重复、过时与拒收的预警", "Held, duplicate, stale and rejected"),
    "board.refused.none": ("无", "None"),
    "board.details": ("详情", "Details"),
    "board.total": ("合计", "Total"),
    "board.open": ("未完成", "Open"),
    # fields
    "f.id": ("编号", "Id"),
    "f.hazard": ("灾种", "Hazard"),
    "f.colour": ("预警颜色", "Colour"),
    "f.level": ("响应等级", "Response level"),
    "f.areas": ("区域", "Areas"),
    "f.since": ("生效时间", "Since"),
    "f.warning": ("所属预警", "Warning"),
    "f.agency": ("单位", "Agency"),
    "f.task": ("任务", "Task"),
    "f.area": ("区域", "Area"),
    "f.asset": ("设施", "Asset"),
    "f.state": ("状态", "State"),
    "f.deadline": ("时限", "Deadline"),
    "f.countdown": ("剩余时间", "Time left"),
    "f.escalation": ("督办阶段", "Escalation stage"),
    "f.when": ("时间", "When"),
    "f.what": ("事件", "What"),
    "f.kind": ("类型", "Kind"),
    "f.decision": ("处理结果", "Decision"),
    "f.reason": ("原因", "Reason"),
    "f.channel": ("渠道", "Channel"),
    "f.references": ("引用", "References"),
    "f.instructions": ("处置要求", "Instructions"),
    "f.by": ("答复人", "Answered by"),
    "f.history": ("状态记录", "State history"),
    "f.headline": ("标题", "Headline"),
    "f.expires": ("失效时间（可选）", "Expires (optional)"),
    "f.exercise": ("演练（不影响实战）", "Exercise (routed as a drill)"),
    "f.note": ("说明", "Note"),
    "f.to": ("接收方", "To"),
    "f.steps": ("步", "steps"),
    "f.overdue": ("已超时", "Overdue"),
    "f.overdue_by": ("超时", "overdue by"),
    # warnings page
    "w.title": ("预警发布", "Warnings"),
    "w.issue": ("发布预警", "Issue a warning"),
    "w.update": ("更新预警（升级/降级/变更区域）", "Update a warning (up, down, areas)"),
    "w.cancel": ("解除预警", "Cancel a warning"),
    "w.reference": ("要更新或解除的预警", "Warning to update or cancel"),
    "w.preview": ("预览（按预案计算，不发送）", "Preview (from the plan, nothing is sent)"),
    "w.submit.issue": ("发布", "Issue"),
    "w.submit.update": ("更新", "Update"),
    "w.submit.cancel": ("解除", "Cancel warning"),
    "w.areas.help": (
        "勾选区，或选「全市」；也可用中文、英文名或行政区划代码",
        "Tick districts or citywide; Chinese, English names and codes also work",
    ),
    "w.preview.title": ("预览：预案将如何响应", "Preview: what the plan will do"),
    "w.preview.levels": ("响应等级变化", "Level changes"),
    "w.preview.dispatch": ("将派发的任务", "Tasks to dispatch"),
    "w.preview.stand_down": ("将撤销的任务", "Tasks to stand down"),
    "w.preview.nothing": ("预案不会有任何变化", "The plan changes nothing"),
    "w.preview.against": ("相对于当前生效预警", "Against the warnings now in force"),
    "w.result": ("处理结果", "What the response decided"),
    "w.error": ("未发送：", "Not sent:"),
    "w.lookup": ("查询", "Look up"),
    "w.none_in_force": ("当前没有可更新或解除的预警", "No warning to update or cancel"),
    "w.recent": ("最近收到的预警", "Recently received"),
    # decisions
    "d.apply": ("已生效", "applied"),
    "d.duplicate": ("重复（无需处理）", "duplicate (nothing to do)"),
    "d.stale": ("过时（未生效）", "stale (not applied)"),
    "d.held": ("暂存（等待所引用的预警）", "held (waits for what it references)"),
    "d.rejected": ("拒收", "rejected"),
    "d.orphaned": ("作废（引用的预警未到）", "orphaned (reference never came)"),
    "d.pending": ("已排队，尚未处理", "queued, decision pending"),
    "d.ignored": ("测试消息，已忽略", "test message, ignored"),
    "d.invalid": ("无效", "invalid"),
    "d.released": ("（之后已处理）", "(decided again since)"),
    # task states
    "s.dispatched": ("已派发", "dispatched"),
    "s.escalated": ("已督办", "escalated"),
    "s.acknowledged": ("已签收", "acknowledged"),
    "s.in_progress": ("处置中", "in progress"),
    "s.overdue": ("已超时", "overdue"),
    "s.completed": ("已完成", "completed"),
    "s.declined": ("已拒绝", "declined"),
    "s.stood_down": ("已撤销", "stood down"),
    # escalation kinds and recipients
    "e.reminder": ("提醒单", "reminder"),
    "e.supervision": ("督办单", "supervision"),
    "e.warning": ("警示单", "warning"),
    "r.agency": ("责任单位", "the agency"),
    "r.district_hq": ("区防汛指挥部", "district HQ"),
    "r.city_hq": ("市防汛指挥部", "city HQ"),
    # timeline
    "tl.warning_received": ("收到预警", "warning received"),
    "tl.levels_changed": ("响应等级变化", "levels changed"),
    "tl.escalation": ("督办", "escalation"),
    "tl.stood_down": ("撤销任务", "task stood down"),
    "tl.response_started": ("启动响应", "response started"),
    "tl.ended": ("响应结束", "response ended"),
    # hazards and colours
    "h.wind": ("台风/大风", "typhoon / gale"),
    "h.rainstorm": ("暴雨", "rainstorm"),
    "h.tide": ("风暴潮/高潮位", "storm tide"),
    "h.flood": ("洪水", "flood"),
    "c.blue": ("蓝色", "blue"),
    "c.yellow": ("黄色", "yellow"),
    "c.orange": ("橙色", "orange"),
    "c.red": ("红色", "red"),
    "l.IV": ("Ⅳ级", "Level IV"),
    "l.III": ("Ⅲ级", "Level III"),
    "l.II": ("Ⅱ级", "Level II"),
    "l.I": ("Ⅰ级", "Level I"),
    "l.none": ("无响应", "No response"),
    # response detail
    "rd.title": ("响应详情", "Response detail"),
    "rd.temporal": ("在 Temporal Web UI 中查看工作流", "Open the workflow in the Temporal Web UI"),
    "rd.notices": ("当前应发布的公告", "Notices due now"),
    "rd.notices.none": ("无", "None"),
    "rd.escalations": ("督办记录", "Escalations"),
    "rd.plan": ("预案", "Plan"),
    "rd.started": ("启动时间", "Started"),
    "rd.status": ("状态", "Status"),
    "rd.active": ("进行中", "active"),
    "rd.closed": ("已结束", "closed"),
    "rd.drill": ("演练", "drill"),
    "rd.live": ("实战", "live"),
    "rd.all_tasks": ("全部任务", "Every task"),
    "rd.first_n": (
        "（超时、督办与未完成的优先）显示前",
        "(overdue, escalated and open first) showing the first",
    ),
    # agency desk
    "a.title": ("单位工作台", "Agency desk"),
    "a.choose": ("选择单位", "Choose an agency"),
    "a.open": ("待办任务（按时限排序）", "Open tasks, by deadline"),
    "a.none": ("没有待办任务", "No open task"),
    "a.acknowledge": ("签收", "Acknowledge"),
    "a.progress": ("报告处置中", "Report progress"),
    "a.complete": ("完成", "Complete"),
    "a.decline": ("拒绝", "Decline"),
    "a.reason": ("拒绝原因（必填）", "Reason for declining (required)"),
    "a.by": ("答复人（可选）", "Your name or team (optional)"),
    "a.done": ("已提交：", "Sent:"),
    "a.conflict": ("任务已变化：", "The task changed:"),
    "a.closed_recently": ("最近关闭的任务", "Recently closed"),
    "a.reload": ("刷新页面查看最新状态", "Reload to see it as it is"),
    "a.overdue": ("已超过时限", "past its deadline"),
    "a.of": ("共", "of"),
    # drills
    "dr.title": ("演练", "Drills"),
    "dr.storms": ("历史风暴", "Bundled storms"),
    "dr.start": ("开始演练", "Start a drill"),
    "dr.storm": ("风暴", "Storm"),
    "dr.mode": ("方式", "Mode"),
    "dr.fast": ("快速（时间跳跃，数十秒）", "Fast (time-skipping, tens of seconds)"),
    "dr.speed": ("加速（实时服务，N倍速）", "Speed N (live services, N times real time)"),
    "dr.speed_n": ("倍速 N", "Speed N"),
    "dr.running": ("进行中的演练", "Running drills"),
    "dr.none_running": ("没有进行中的演练", "No drill running"),
    "dr.past": ("已完成的演练", "Past drills"),
    "dr.none_past": ("还没有演练报告", "No drill report yet"),
    "dr.report": ("演练报告", "After-action report"),
    "dr.phase": ("阶段", "Phase"),
    "dr.storm_clock": ("风暴时间", "Storm clock"),
    "dr.warnings": ("已发预警", "Warnings sent"),
    "dr.tasks": ("任务", "Tasks"),
    "dr.acknowledged": ("已签收", "Acknowledged"),
    "dr.completed": ("已完成", "Completed"),
    "dr.failed": ("演练失败", "Drill failed"),
    "dr.compare": ("预案对比", "Compare plans"),
    "dr.plan_a": ("预案 A（目录）", "Plan A (directory)"),
    "dr.plan_b": ("预案 B（目录）", "Plan B (directory)"),
    "dr.compare.submit": ("对比", "Compare"),
    "dr.compare.same": (
        "两个预案在此风暴的每一步都相同",
        "The two plans do the same at every step",
    ),
    "dr.only_a": ("仅 A", "Only in A"),
    "dr.only_b": ("仅 B", "Only in B"),
    "dr.levels_ab": ("等级 A → B", "Levels A → B"),
    "dr.year": ("年份", "Year"),
    "dr.period": ("时段", "Period"),
    "dr.highest": ("最高等级", "Highest level"),
    "dr.wall": ("用时", "Wall time"),
    "dr.escalations": ("督办", "Escalations"),
    # plan
    "p.title": ("防汛防台预案", "Response plan"),
    "p.levels": ("预警颜色对应的响应等级", "Response level by warning colour"),
    "p.compound": ("叠加规则", "Compound rules"),
    "p.actions": ("各等级任务", "Actions by level"),
    "p.filter": ("筛选", "Filter"),
    "p.all": ("全部", "All"),
    "p.explain": ("预案推演", "Explain"),
    "p.explain.help": (
        "选择灾种、颜色与区域，查看各区响应等级、原因和派发的任务。",
        "Choose hazards, colours and areas to see each area's level, why, and the tasks.",
    ),
    "p.explain.submit": ("推演", "Explain"),
    "p.base": ("单灾种等级", "Single-hazard level"),
    "p.raised_by": ("叠加规则抬升", "Raised by"),
    "p.city_floor": ("不低于全市等级", "Held at the city's level"),
    "p.scope": ("范围", "Scope"),
    "p.ack": ("签收时限（分钟）", "Acknowledge within (min)"),
    "p.deadline_min": ("完成时限（分钟）", "Done within (min)"),
    "p.escalation": ("督办链", "Escalation chain"),
    "p.tasks_n": ("任务数", "Tasks"),
    "p.add_warning": ("再加一条预警", "Add another warning"),
    "p.version": ("版本", "Version"),
    # errors
    "err.title": ("出错了", "Something went wrong"),
    "err.not_found": ("找不到", "Not found"),
    "err.forbidden": ("无权限", "Not allowed"),
    "err.needs": ("此页面需要权限", "this page needs the permission"),
    "err.how": (
        "请用具备该权限的账号登录。在服务器上创建账号（会打印一次性密码）：",
        "Sign in with an account that has it; create one on the server (prints a password once):",
    ),
    "err.then": ("然后", "Then"),
    "err.unreachable": ("服务不可用", "Service unreachable"),
    "back": ("返回", "Back"),
}


def resolve(request: Request) -> Lang:
    """The language of this request: the cookie's, else Chinese."""
    return "en" if request.cookies.get(COOKIE) == "en" else "zh"


def translator(lang: Lang) -> Callable[..., str]:
    """``t(key)`` for templates; ``t("s." + state)`` style keys fall back to the raw value."""
    index = LANGS.index(lang)

    def t(key: str, fallback: str | None = None) -> str:
        pair = LABELS.get(key)
        if pair is None:
            if fallback is not None:
                return fallback
            raise KeyError(f"no console label {key!r}")
        return pair[index]

    return t


def both(key: str) -> str:
    """``中文 / English`` for places that show both (the login page, errors)."""
    zh, en = LABELS[key]
    return f"{zh} / {en}"
