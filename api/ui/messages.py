"""Everything a console user reads, in Simplified Chinese: labels and error messages.

The JSON API's messages are English for integrators; the console never shows them. An
error becomes (status, Chinese sentence) by its class, and a validation failure becomes
one Chinese sentence per form field.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from patmatch import errors as E

ROLE_ZH = {"operator": "运维人员", "analyst": "分析员", "centre": "运营中心", "broker": "技术经纪人"}
APPLICANT_TYPE_ZH = {"university": "高校", "institute": "科研院所", "soe": "国有企业",
                     "enterprise": "企业", "individual": "个人", "other": "其他"}
FIELD_ZH = {
    "title": "标题", "text": "需求描述", "enterprise": "企业名称", "industry": "所属行业",
    "chain": "产业链", "region": "地区", "budget": "预算", "cooperation_mode": "合作方式",
    "required_trl": "要求的技术成熟度（TRL）", "deadline": "截止日期", "confidential": "保密",
    "contact_name": "联系人", "contact_phone": "联系电话", "contact_email": "联系邮箱",
    "source": "来源", "q": "需求文本", "page": "页码", "demand": "需求", "id": "编号",
    "owner": "所属中心", "key": "API 密钥", "build_id": "构建编号",
}


class CsrfError(E.PatmatchError):
    """A state-changing form arrived without a valid CSRF token."""

    code = "auth.csrf"


def _field(loc: Any) -> str:
    parts = [str(p) for p in (loc or ()) if str(p) not in ("body", "query", "path", "form")]
    name = parts[0] if parts else ""
    return FIELD_ZH.get(name, name or "输入")


def _reason(err: dict[str, Any]) -> str:
    kind = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return "为必填项"
    if kind == "string_too_short":
        return "不能为空"
    if kind == "string_too_long":
        return f"不能超过 {ctx.get('max_length', '')} 个字符"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "须为整数"
    if kind == "greater_than_equal":
        return f"不能小于 {ctx.get('ge', '')}"
    if kind == "less_than_equal":
        return f"不能大于 {ctx.get('le', '')}"
    if kind == "string_pattern_mismatch":
        return "格式不正确（日期请写成 2026-12-31）"
    if kind in ("literal_error", "enum"):
        return f"须为以下之一：{ctx.get('expected', '')}"
    if kind in ("bool_type", "bool_parsing"):
        return "须为“是”或“否”"
    if kind == "extra_forbidden":
        return "不是可填写的项"
    if kind == "repeated":
        return "只能填写一次"
    return "输入无效"


def field_errors(errs: list[dict[str, Any]]) -> dict[str, str]:
    """{field name: Chinese sentence}, first problem per field."""
    out: dict[str, str] = {}
    for err in errs:
        loc = [str(p) for p in err.get("loc", ()) if str(p) not in ("body", "query", "path")]
        name = loc[0] if loc else "_"
        out.setdefault(name, f"{_field(err.get('loc'))}{_reason(err)}")
    return out


def input_error_zh(exc: E.PatmatchError) -> str:
    """An InputError/Conflict raised by shared code, told in Chinese by what it names."""
    d = exc.details or {}
    if "chain" in d:
        return f"产业链“{d['chain']}”不存在，或不在您的中心负责的产业链内"
    if isinstance(exc, E.ConflictError) and "id" in d:
        return f"编号“{d['id']}”已被占用"
    if "field" in d and d["field"] == "text":
        return "需求描述可以修改，但不能删除"
    if "role" in d:
        return "只有运维人员可以指定需求编号或所属中心"
    if "text" in d and "demand_id" in d:
        return "请填写需求文本，或选择一条已保存的需求（二选一）"
    return "输入有误，请检查后重试"


def error_zh(exc: BaseException) -> tuple[int, str, str | None]:
    """(HTTP status, Chinese message, incident id for 500s)."""
    if isinstance(exc, CsrfError):
        return 403, "表单已过期或来源不明（CSRF 校验失败）。请刷新页面后重新提交。", None
    if isinstance(exc, E.NotFoundError):
        return 404, "未找到该记录，或您无权查看。", None
    if isinstance(exc, E.PermissionDeniedError):
        return 403, "您的角色无权执行此操作。", None
    if isinstance(exc, E.QualityGateError):
        return 409, "新构建未通过质量门槛，未发布。确认后可选择强制发布。", None
    if isinstance(exc, E.LockHeldError):
        return 409, "另一项构建或发布正在进行，请稍后再试。", None
    if isinstance(exc, E.ConflictError):
        d = exc.details or {}
        if "id" in d:
            return 409, input_error_zh(exc), None
        return 409, "操作冲突：当前状态不允许此操作（例如没有可回滚的上一版本）。", None
    if isinstance(exc, E.NoBundleError) or isinstance(exc, E.BundleError):
        return 503, "检索索引尚未发布或暂不可用：请运维人员构建并发布索引后再试。", None
    if getattr(exc, "code", "") == "auth.throttled":
        return 429, "失败次数过多，请稍后再试。", None
    if isinstance(exc, E.AuthenticationError):
        return 401, "请先登录。", None
    if isinstance(exc, (RequestValidationError, ValidationError)):
        errs = field_errors(list(exc.errors()))
        return 400, "；".join(errs.values()) or "输入有误", None
    if isinstance(exc, E.InputError):
        return 400, input_error_zh(exc), None
    if isinstance(exc, HTTPException):
        if exc.status_code == 404:
            return 404, "页面不存在。", None
        if exc.status_code == 405:
            return 405, "不支持此操作方式。", None
        return exc.status_code, "请求无法处理。", None
    if isinstance(exc, E.DependencyError):
        return 503, "依赖的服务暂不可用，请稍后再试。", None
    incident = uuid.uuid4().hex[:12]
    return 500, f"服务器内部错误（事件编号 {incident}），请联系运维人员。", incident
