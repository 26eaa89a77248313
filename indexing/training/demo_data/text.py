"""Patent text in the usual CNIPA phrasing: relations, process/data steps, abstracts.

Abstracts vary in structure (six openings/bodies) and length (optional background,
second-aspect, embodiment and application sentences), as real abstracts do.
"""

from __future__ import annotations

import random
from typing import Any

def num(rng: random.Random, template: str) -> str:
    return template.format(
        n=rng.randint(85, 99), p=rng.randint(8, 65), e=f"{rng.uniform(23.5, 26.9):.1f}",
        d=f"{rng.uniform(0.3, 3.0):.1f}", k=rng.choice([50, 100, 200, 300, 500, 800, 1000, 2000, 3000]),
        t=rng.randint(800, 2200), s=f"{rng.uniform(3.5, 7.2):.2f}", m=f"{rng.uniform(0.01, 0.5):.2f}",
        a=rng.randint(450, 780))


REL_DEVICE = ["{a}设置于{b}的{pos}", "{a}与{b}通过{conn}连接", "{a}嵌设在{b}内部",
               "{a}用于调节{b}的工作状态", "{a}的输出端与{b}的输入端相连", "{a}固定安装在{b}上"]
REL_MATERIAL = ["{a}均匀分布于{b}中", "{a}与{b}的质量比为{r}:1", "{a}包覆于{b}表面",
                 "{a}的质量分数为{r}%～{r2}%", "{a}与{b}之间形成稳定的界面结合"]
STEP_PROCESS = ["将{a}与{b}按质量比{r}:1混合均匀", "在{t}℃下保温{h}小时，得到{b}",
                 "采用{a}对{b}进行表面处理", "将{a}分散于溶剂中，超声处理{h}小时",
                 "对{b}进行洗涤、过滤和干燥", "在惰性气氛中升温至{t}℃，使{a}与{b}充分反应"]
STEP_DATA = ["获取{a}的原始数据", "对{a}进行预处理，得到{b}", "根据{a}计算{b}的修正量",
              "将{a}的特征输入{b}中进行迭代优化", "以{a}为约束条件生成{b}",
              "根据{b}的输出结果调整{a}的参数"]
PROCESS_WORDS = ("制备", "还原", "纯化", "增材", "回收", "提取", "表达", "辊压", "拉制", "切割", "上浆",
                 "分散", "沉积", "氧化", "发泡", "喷涂", "冶金", "预锂化", "印刷")
_POS = ["外侧", "内侧", "上方", "下端", "一侧", "中部"]
_CONN = ["螺栓", "导线", "卡扣", "焊接", "总线", "法兰"]


def fill(rng: random.Random, tpl: str, comps: list[str]) -> str:
    a, b = rng.sample(comps, 2)
    r = rng.randint(2, 20)
    return tpl.format(a=a, b=b, pos=rng.choice(_POS), conn=rng.choice(_CONN), r=r, r2=r + rng.randint(5, 30),
                      t=rng.choice([60, 80, 120, 200, 350, 450, 800]), h=rng.randint(1, 24))


_BACKGROUND = ["针对现有技术中{p}的不足，", "为克服现有{t}{p}的缺陷，", "鉴于{p}的问题，", ""]
_APPLY = ["{w}可广泛应用于{u}等领域。", "该{k}适用于{u}场景。", "适合在{u}中推广使用。",
          "可用于{u}，便于工业化生产。"]
_SECOND = {"制备方法": "{w}还公开了所述{t}的制备方法，工艺简单，易于规模化生产。",
           "控制方法": "{w}还提供了所述{t}的控制方法。", "存储介质": "{w}还提供了相应的装置及计算机可读存储介质。",
           "系统": "{w}还提供了实现上述方法的系统。", "应用": "{w}还公开了所述{t}在{u}中的应用。"}
_NOT_RAW = ("工艺", "处理", "炉", "烧结", "干燥", "机", "渗透", "结构", "层")
_KIND_WORD = {"material": "材料", "device": "装置", "method": "方法", "system": "系统"}


def compose_abstract(rng: random.Random, area: dict[str, Any], subj: dict[str, Any], core: str,
                     title: str, comps: list[str], rel1: str, rel2: str, steps: list[str],
                     problem: str, e0: str, e1: str, metric: str, is_method: bool) -> str:
    # the application field named in the title, if any, is the one the abstract names
    use = next((u for u in area["uses"] if u in title), None) or rng.choice(area["uses"])
    ind, term = area["industry"], subj["term"]
    who = rng.choice(["本发明", "本发明", "本申请"])
    bg = rng.choice(_BACKGROUND).format(p=problem, t=term)
    material = subj["kind"] == "material" and not is_method
    choice = rng.choice([2, 3, 4] if is_method else [0, 1, 3, 6] if material else [0, 1, 3, 5])
    if choice == 0:
        text = (f"{who}公开了一种{core}，包括{'、'.join(comps[:3])}和{comps[3]}；{rel1}，{rel2}。"
                f"{who}通过{comps[4]}的设置，解决了现有技术中{problem}的问题，具有{e0}、{e1}的效果，{metric}。")
    elif choice == 1:
        text = (f"{who}涉及{ind}技术领域，具体涉及一种{core}。所述{core}由{'、'.join(comps[:3])}和"
                f"{comps[3]}组成，{rel1}。与现有技术相比，{who}{e0}，{e1}，{metric}，有效解决了{problem}的问题。")
    elif choice == 2:
        n = rng.choice([3, 3, 4])
        body = "；".join(f"S{k + 1}，{steps[k]}" for k in range(n))
        text = (f"{who}提供了一种{core}，包括以下步骤：{body}。"
                f"{who}解决了{problem}的问题，{e0}，并且{e1}，{metric}。")
    elif choice == 3:
        how = steps[1] if is_method else rel1
        text = (f"{who}公开了一种{core}，属于{ind}领域。该方案中，{how}，{steps[0]}。"
                f"{who}{e0}，{e1}，解决了传统方案{problem}的问题，{metric}，具有良好的应用前景。")
    elif choice == 4:
        text = (f"{who}公开了一种{core}。{bg}该方法首先{steps[0]}，然后{steps[1]}，最后{steps[2]}。"
                f"采用{who}的技术方案，{e0}，解决了{problem}的问题。")
        bg = ""
    elif choice == 6:  # a composition in parts by weight, as material patents state it
        raw = [c for c in comps if not any(w in c for w in _NOT_RAW)] or comps
        parts = "、".join(f"{c}{(a := rng.randint(1, 60))}～{a + rng.randint(5, 40)}份" for c in raw[:3])
        how = [c for c in comps if c not in raw[:3]]
        via = f"经{how[0]}制得，" if how else ""
        text = (f"{who}公开了一种{core}，按质量份计，其原料包括{parts}。{via}{bg}"
                f"{who}解决了{problem}的问题，{e0}，{metric}。")
        bg = ""
    else:
        text = (f"{who}公开了一种{core}，其包括{comps[0]}以及设置在{comps[0]}上的{comps[1]}，{rel2}。"
                f"{bg}{who}利用{comps[2]}与{comps[3]}的配合，解决了{problem}的问题，{e0}。")
        bg = ""
    extra = []
    if bg and rng.random() < 0.3:
        extra.append(f"{bg.rstrip('，')}，{who}{e1}。")
    for key, sent in _SECOND.items():
        if key in title and rng.random() < 0.7:
            extra.append(sent.format(t=term, u=use, w=who))
            break
    if rng.random() < 0.25:
        extra.append(f"在一个实施例中，{rng.choice([rel2, steps[3]])}。")
    if rng.random() < 0.4:
        extra.append(rng.choice(_APPLY).format(u=use, k=_KIND_WORD[subj["kind"]], w=who))
    return text + "".join(extra)
