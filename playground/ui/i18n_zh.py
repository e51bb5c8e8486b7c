"""The page's Simplified Chinese (i18n.py uses it): `ZH` maps each English text, as the ui writes it, to its
Chinese; `HELP_ZH` is each parameter's one-line help (`Spec.help`); messages that carry values (the core's
validation) are matched by `i18n.PATTERNS`. Parameter names, stage names and code stay as they are.
Terms: token (kept as is), 温度 (temperature), 核采样 top-p, 贪心解码 (greedy), 束搜索 (beam search), 随机种子
(seed), 停止字符串 (stop strings), 重复惩罚 / 存在惩罚 / 频率惩罚, 熵 (entropy), 预设 (preset), 采样器 (sampler).
"""

from __future__ import annotations

HELP_ZH = {
    "do_sample": "从分布中随机采样；关闭 = 总是取概率最高的 token（贪心解码）",
    "temperature": "温度：用它除 logits，小于 1 分布更尖锐，大于 1 更平坦；0 表示贪心解码",
    "top_k": "只保留概率最高的 k 个 token；0 = 关闭",
    "top_p": "核采样：保留概率之和至少为 p 的最小头部 token 集合；1 = 关闭",
    "min_p": "去掉概率低于「min_p × 最高概率」的 token；0 = 关闭",
    "typical_p": "典型采样：保留惊奇度最接近熵的 token，直到累计概率达到 p；1 = 关闭",
    "epsilon_cutoff": "去掉概率低于 epsilon 的 token；0 = 关闭",
    "eta_cutoff": "去掉低于按熵缩放的阈值的 token（eta 采样）；0 = 关闭",
    "repetition_penalty": "重复惩罚：降低文中已出现的 token（包括提示词）的概率；1 = 关闭",
    "presence_penalty": "存在惩罚（OpenAI）：每个已生成过的 token 减去一次该值",
    "frequency_penalty": "频率惩罚（OpenAI）：token 每已生成一次就减去一次该值",
    "no_repeat_ngram_size": "禁止这个长度的 n-gram 出现两次；0 = 关闭",
    "dry_multiplier": "DRY：惩罚会延长一段重复序列的 token；0 = 关闭",
    "dry_base": "DRY：惩罚随重复长度增长的速度",
    "dry_allowed_length": "DRY：不超过这么多 token 的重复不受惩罚",
    "dry_penalty_last_n": "DRY：扫描最近多少个 token；-1 = 全部，0 = 关闭",
    "dry_sequence_breakers": "DRY：重复不会跨过含有这些字符串之一的 token",
    "top_n_sigma": "保留与最高 logit 相差不超过 n 个标准差的 token；0 = 关闭",
    "xtc_probability": "XTC：排除头部候选的频率；0 = 关闭",
    "xtc_threshold": "XTC：概率不低于此值的 token 算作头部候选；大于 0.5 = 关闭",
    "dynatemp_range": "动态温度：温度 T 按熵在 temperature ± range 之间变化；0 = 关闭",
    "dynatemp_exponent": "动态温度：归一化熵的指数",
    "smoothing_factor": "平滑采样（二次采样）：以最高 logit 为中心弯曲 logits；0 = 关闭",
    "smoothing_curve": "平滑采样：1 = 二次曲线，更大的值加入三次项",
    "top_a": "去掉概率低于「a × 最高概率的平方」的 token；0 = 关闭",
    "tfs": "无尾采样（tail-free）：在排序后的概率变平处截断；1 = 关闭",
    "mirostat": "Mirostat：2 = v2，让每个 token 的惊奇度趋近 tau（它取代各过滤器）；0 = 关闭",
    "mirostat_tau": "Mirostat：目标惊奇度，单位为比特",
    "mirostat_eta": "Mirostat：mu 的学习速度",
    "max_new_tokens": "回复最多生成的 token 数",
    "min_new_tokens": "生成这么多 token 之前禁止结束符（EOS）",
    "num_beams": "束搜索保留的束数；1 = 不用束搜索",
    "length_penalty": "给已完成的束排序时长度的指数；大于 0 偏向更长的",
    "early_stopping": "一旦有 num_beams 个已完成的候选就停止",
    "num_return_sequences": "返回多少个最终的束",
    "seed": "本次请求随机数生成器的种子；留空 = 每次新的随机种子",
    "logit_bias": "token（文本或 id）-> 最先加到它 logit 上的偏置；-100 即禁止它",
    "stop": "最多 4 个、每个最多 200 字符的字符串，出现即结束回复；它们会从文本中去掉",
    "sampler_order": "采样过滤器的顺序（例如温度排在哪里）：一个命名顺序，或你自己用逗号分隔的阶段名"
                     "（未列出的阶段随后按默认顺序运行），例如 top_k,min_p,temperature。阶段：top_n_sigma, temperature, "
                     "dynatemp, smoothing, top_k, top_p, min_p, typical_p, epsilon, eta, tfs, top_a, xtc",
}

ZH = {
    # --- the page (layout.py) ---
    "Sampling playground": "采样游乐场",
    "Chat": "对话",
    "Message": "消息",
    "Type a message — Enter sends, Shift+Enter for a new line": "输入消息 —— Enter 发送，Shift+Enter 换行",
    "Send": "发送",
    "Stop": "停止",
    "Reply tokens": "回复的 token",
    "Regenerate": "重新生成",
    "Undo last turn": "撤销上一轮",
    "Clear": "清空",
    "Step": "单步",
    "Step ×10": "单步 ×10",
    "Run to end": "运行到结束",
    "System prompt": "系统提示词",
    "Optional, e.g. You are a concise assistant.": "可选，例如：你是一个简洁的助手。",
    "Next-token distribution": "下一个 token 的分布",
    "Tokens shown (top N)": "显示的 token 数（前 N 个）",
    "Scale": "刻度",
    "linear": "线性",
    "log": "对数",
    "Preset": "预设",
    "Reset to defaults": "恢复默认值",
    "Save current settings as": "将当前设置保存为",
    "Save in this browser": "保存在本浏览器",
    "Download settings (YAML)": "下载设置（YAML）",
    "Upload a preset (YAML)": "上传预设（YAML）",
    "Preset file text": "预设文件内容",
    "Preset file name": "预设文件名",
    "Try:": "试试：",
    # the parameter groups (params.GROUPS)
    "Sampling": "采样",
    "Penalties": "惩罚",
    "More samplers": "更多采样器",
    "Length and stopping": "长度与停止",
    "Beam search": "束搜索",
    "Advanced": "高级",
    "random": "随机",
    "One per line as `token: bias` (quote a token with spaces: `\" cat\": -100`), or JSON {\"42\": 5}.":
        "每行一个 `token: 偏置`（含空格的 token 加引号：`\" cat\": -100`），或 JSON {\"42\": 5}。",
    "One per line, or a JSON list such as [\"\\n\\n\", \"User:\"].": "每行一个，或 JSON 列表，例如 [\"\\n\\n\", \"User:\"]。",
    # the examples (examples.py)
    "A joke": "讲个笑话",
    "The capital of France is…": "法国的首都是……",
    "A random word": "随便一个词",
    "Say 'banana'": "说 'banana'",
    # presenter mode
    "Presenter mode (large type, large plot; or ?presenter=1)": "演示模式（大字号、大图；或 ?presenter=1）",
    "Controls shown in presenter mode": "演示模式中显示的控件",
    # export
    "Export as code": "导出为代码",
    "Show code for these settings": "显示这些设置的代码",
    "transformers (generate)": "transformers（generate）",
    "OpenAI: a Python script (openai client), its JSON body, a curl line":
        "OpenAI：Python 脚本（openai 客户端）、JSON 请求体、curl 命令",
    "llama.cpp server: a /completion request (curl)": "llama.cpp 服务器：/completion 请求（curl）",
    "llama-cli flags": "llama-cli 参数",
    # the sampler order's buttons
    "Move a stage": "移动一个阶段",
    "↑ earlier": "↑ 提前",
    "↓ later": "↓ 推后",
    "Order now: ": "现在的顺序：",
    # the explain panel
    "Explain: every active parameter, its formula, and what it did to this step":
        "解释：每个生效的参数、它的公式，以及它对这一步做了什么",
    "Open to see each active sampler's formula and what it did to the token the plot shows.":
        "展开可查看每个生效采样器的公式，以及它对图中这个 token 做了什么。",
    # the inspector
    "Inspect step": "查看的步",
    "The selected step": "选中的步",
    "Candidates": "候选",
    "Candidates at step {k}: click a row to force it": "第 {k} 步的候选：点击一行即强制采用它",
    "Sampler chain at step {k}, stage by stage ({settings})": "第 {k} 步的采样器链，逐阶段（{settings}）",
    "This reply has no token steps to inspect (none yet, or beam search).": "这条回复没有可查看的 token 步（还没有，或是束搜索）。",
    "Open: the ▸ is the next step.": "未结束：▸ 是下一步。",
    "1: original": "1：原始",
    "mode {mode}; parameters: {settings}; branch {branch}": "模式 {mode}；参数：{settings}；分支 {branch}",
    "**Step {k}: the next token**, not chosen yet. Click a candidate row (or pick one in *Force token*) to take it, or Step to "
    "sample one. <br>{about}": "**第 {k} 步：下一个 token**，尚未选出。点击一个候选行（或在 *强制 token* 中选一个）即采用它，"
                               "或点“单步”采样一个。<br>{about}",
    "forced by you": "由你强制",
    " · chosen": " · 选中",
    "Default order": "默认顺序",
    "Temperature last": "温度最后",
    "text-generation-webui": "text-generation-webui 顺序",
    "Your order": "你的顺序",
    "Before any sampler (the model)": "采样器之前（模型）",
    "After the chain (recorded candidates)": "整条链之后（记录的候选）",
    "After the chain ({n} tokens left)": "整条链之后（剩 {n} 个 token）",
    "chosen with p = {p}": "以 p = {p} 被选中",
    "**Step {k}**: “{token}” (id {id}), {how}; the model alone gave it p = {p} (rank {rank}). <br>{about}{record}":
        "**第 {k} 步**：“{token}”（id {id}），{how}；模型本身给它的概率 p = {p}（排名 {rank}）。<br>{about}{record}",
    "Shown from the record made while generating (the candidates and the chain, exact). A reply keeps the full logits of its "
    "latest steps only (memory), so the order comparison is not drawn for this step.":
        "根据生成时的记录显示（候选和采样器链，都是精确的）。为节省内存，回复只保留最近几步的完整 logits，所以这一步不画顺序对比图。",
    "Force text": "强制文本",
    "Your own continuation: its tokens are taken in order from the selected step": "你自己的续写：从选中的步开始依次采用它的 token",
    "Force token (the candidates of the selected step)": "强制 token（选中步的候选）",
    "Branch (switch to show another)": "分支（切换以显示另一个）",
    "Branch from the selected token": "从选中的 token 分支",
    "Sampler chain": "采样器链",
    "Before any sampler vs after the chain": "采样器之前 vs 整条链之后",
    "Order matters: survivors under each sampler order (* = this reply's)":
        "顺序很重要：各采样器顺序下留下的 token（* = 本回复的顺序）",
    "Click a token of the reply above (or Step) to see how it was chosen.":
        "点击上方回复中的一个 token（或单步），查看它是如何被选中的。",
    "The tokens of the last reply appear here, coloured by the probability each was chosen with.":
        "上一条回复的 token 显示在这里，颜色表示每个 token 被选中时的概率。",
    "Colour = probability the token was chosen with (red: unlikely, green: likely). Click a token to take its step apart.":
        "颜色 = token 被选中时的概率（红：不太可能，绿：很可能）。点击一个 token 可拆解它那一步。",
    "## Token inspector\nClick a token of the reply (under Send; steps count from 1) to take its step apart: the plot of that step, "
    "the sampler chain\nstage by stage, the model's distribution beside the one sampled from, and the surviving set under each\n"
    "sampler order. Nothing here runs the model again: every step's logits were kept while generating.\n"
    "**Step** / **Step ×10** / **Run to end** generate a reply one token at a time (a typed message starts a new\none); "
    "click a candidate row to force it instead of sampling, or force your own text. **Branch** regenerates\n"
    "from the selected token with the current parameters; earlier branches stay listed under *Branch*.":
        "## Token 检查器\n点击回复中的一个 token（在“发送”下方；步数从 1 开始）来拆解它那一步：这一步的分布图、逐阶段的采样器链、"
        "模型的原始分布与实际采样所用分布的对比，以及每种采样器顺序下留下的集合。这里不会再次运行模型：生成时已保存每一步的 logits。\n"
        "**单步** / **单步 ×10** / **运行到结束** 一次一个 token 地生成回复（输入框里有消息时开始新的回复）；"
        "点击候选行可强制采用它而不是采样，也可以强制你自己的文本。**分支** 用当前参数从选中的 token 重新生成；"
        "之前的分支仍列在 *分支* 中。",
    # share and compare
    "Share: a link, or a session file": "分享：链接或会话文件",
    "Copy link": "复制链接",
    "Link to this page": "本页链接",
    "Download session (JSON)": "下载会话（JSON）",
    "Open session (JSON)": "打开会话（JSON）",
    "Session file text": "会话文件内容",
    "Session file name": "会话文件名",
    "**Copy link** puts these settings, the system prompt and the conversation into the page's address (and the\n"
    "clipboard): opening it restores them, with the plot on the step you were looking at (the reply is not run again).\n"
    "**Download session** saves the last reply with every step's candidates and chain; **Open session** replays such a\n"
    "file read-only, without running the model (a workshop can be prepared offline: see the README).":
        "**复制链接** 把这些设置、系统提示词和对话写入页面地址（以及剪贴板）：打开它即可恢复，"
        "图停在你正在看的那一步（不会重新运行回复）。\n"
        "**下载会话** 保存上一条回复及其每一步的候选和采样器链；**打开会话** 以只读方式回放这样的文件，不运行模型"
        "（工作坊可以离线准备：见 README）。",
    "Compare two settings (A/B, same seed)": "比较两组设置（A/B，相同随机种子）",
    "**A** = the current controls. **B** = the settings below, one `key=value` per line over the defaults (pick a preset to\n"
    "fill them). Both answer the last user turn (or the message in the box) with the same seed; the table lines the two\n"
    "replies up token by token with each token's probability under A and under B, and marks where they part.":
        "**A** = 当前的控件。**B** = 下面的设置，在默认值之上每行一个 `key=value`（可选一个预设来填写）。"
        "两者用相同的随机种子回答最后一条用户消息（或输入框中的消息）；表格逐个 token 对齐两条回复，"
        "给出每个 token 在 A 和 B 下的概率，并标出它们分开的位置。",
    "Fill B from a preset": "用预设填写 B",
    "Seed (both)": "随机种子（两边）",
    "Settings B (key=value, one per line)": "设置 B（key=value，每行一个）",
    "Compare": "比较",
    "Swap A and B": "交换 A 和 B",
    "B := A": "B := A",
    "Apply B to the main controls": "把 B 应用到主控件",
    "A's chain at the parting step": "A 在分开那一步的采样器链",
    "B's chain at the parting step": "B 在分开那一步的采样器链",
    "A's chain at step {at}": "A 在第 {at} 步的采样器链",
    "B's chain at step {at}": "B 在第 {at} 步的采样器链",
    "English": "English",
    "B = preset **{name}**: {description}": "B = 预设 **{name}**：{description}",
    "B is now a copy of A: edit it, then Compare.": "B 现在是 A 的副本：修改它，然后点“比较”。",
    "Swapped: the controls hold B's settings, B holds A's.": "已交换：控件里是 B 的设置，B 里是 A 的设置。",
    "The main controls now hold settings B ({settings}).": "主控件现在是设置 B（{settings}）。",
    "step": "步",
    "A's token": "A 的 token",
    "B's token": "B 的 token",
    "p under A": "A 下的 p",
    "p under B": "B 下的 p",
    "they part": "在这里分开",
    "both chains at this step, below": "这一步两边的采样器链，在下方",
    "Seed {seed}: {note}": "随机种子 {seed}：{note}",
    "Seed {seed}, comparing: {note}": "随机种子 {seed}，比较中：{note}",
    "the two replies are the same, token for token": "两条回复逐个 token 完全相同",
    "Not compared: ": "未比较：",
    "Not swapped: ": "未交换：",
    "Not applied: ": "未应用：",
    "there is no user turn to answer. Type a message (it is not sent), then Compare.":
        "没有可回答的用户消息。输入一条消息（它不会被发送），然后点“比较”。",
    "`num_beams` must be 1 to compare, but is more in A or B: beam search does not go token by token.":
        "比较时 `num_beams` 必须为 1，但 A 或 B 中更大：束搜索不是逐个 token 进行的。",
    "all defaults": "全部为默认值",
    "Opened a link: {n} messages, settings {what}.": "已打开链接：{n} 条消息，设置 {what}。",
    "Opened a link: {n} messages, settings {what}; the plot shows step {k} of the last reply (the reply is not run again).":
        "已打开链接：{n} 条消息，设置 {what}；图中显示上一条回复的第 {k} 步（不会重新运行这条回复）。",
    "step {k} of the last reply (its text tokenized again; the reply is not run again)":
        "上一条回复的第 {k} 步（重新对它的文本分词；不会重新运行这条回复）",
    "Downloaded the last reply ({n} tokens) as **{fname}**.": "已把上一条回复（{n} 个 token）下载为 **{fname}**。",
    "1: replayed from {source} (read-only)": "1：从 {source} 重放（只读）",
    "Step 1 (from the session file)": "第 1 步（来自会话文件）",
    # the inspector's tables (step_analysis.CHAIN_HEADERS, step_view.CAND_HEADERS)
    "stage": "阶段",
    "considered": "考虑的",
    "mass removed": "去掉的概率质量",
    "top before": "之前最可能的",
    "top after": "之后最可能的",
    "model p": "模型 p",
    "final p": "最终 p",
    "fate": "结果",
    "Replaying **{source}** read-only ({n} tokens, {model}, {dtype}): click a token to see its step. The model is not run; Send "
    "or Regenerate makes a new reply.":
        "正在只读重放 **{source}**（{n} 个 token，{model}，{dtype}）：点击一个 token 查看它的那一步。不会运行模型；"
        "“发送”或“重新生成”会生成一条新回复。",
    "Step 1 of the replayed reply, from the session file's record (no model run).":
        "重放回复的第 1 步，来自会话文件的记录（没有运行模型）。",
    "Nothing to download: make a reply first (Send), then download its session.":
        "没有可下载的内容：先生成一条回复（发送），再下载它的会话。",
    "No file chosen: pick a session file (JSON) to open.": "未选择文件：请选择一个要打开的会话文件（JSON）。",
    "Session not opened, nothing changed: ": "会话未打开，什么都没有改变：",
    # a remote backend's page (remote_page.py, remote_chat.py)
    "the server's probability": "服务器给出的概率",
    "Asking the server…": "正在询问服务器……",
    "The server's top tokens": "服务器给出的头部 token",
    "OpenAI-compatible server": "OpenAI 兼容服务器",
    "llama.cpp server": "llama.cpp 服务器",
    "Sampling Playground": "采样游乐场",
    "a remote server streams one sampled reply; beam search needs the local engine":
        "远程服务器只流式返回一条采样出的回复；束搜索需要本地引擎",
    "On a remote server: the probability and rank are the server's, among its top 20.":
        "在远程服务器上：概率和排名都是服务器给出的，只在它的前 20 个之中。",
    "rank {rank} of {label}": "{label} 中排第 {rank}",
    "not among {label}": "不在{label} 之中",
    "Step {k}: {label}": "第 {k} 步：{label}",
    "Generated token {n}: {token} (p = {p}, {where}). The server sends its top tokens only, not the whole distribution: the chain "
    "view and the live redraw under the current controls need the full logits, so they are not drawn on a remote backend.":
        "生成的第 {n} 个 token：{token}（p = {p}，{where}）。服务器只发送它的头部 token，而不是整个分布：采样器链视图和按当前"
        "控件的实时重绘需要完整的 logits，所以在远程后端上不绘制。",
    "cumulative probability (of the top tokens shown)": "累积概率（所显示的头部 token）",
    "server probability": "服务器概率",
    "The conversation and the settings are unchanged.": "对话和设置都没有改变。",
    " · public mode": " · 公开模式",
    # --- status lines (chat.py) ---
    "hit max_new_tokens": "达到 max_new_tokens",
    "the model ended its turn": "模型结束了它的回合",
    "matched a stop string": "匹配到停止字符串",
    "stopped before the end": "在结束前被停止",
    "{n} tokens": "{n} 个 token",
    "{rate} tokens/s": "{rate} token/秒",
    "{seconds} s": "{seconds} 秒",
    "mode {mode}": "模式 {mode}",
    "seed {seed}": "随机种子 {seed}",
    "{n} beams": "{n} 个束",
    "Running beam search…": "正在运行束搜索……",
    "Generating… {n} tokens": "生成中…… {n} 个 token",
    "Generating…": "生成中……",
    "next in line": "下一个就是你",
    "{n} reply ahead": "前面还有 {n} 条回复",
    "{n} replies ahead": "前面还有 {n} 条回复",
    ", about {seconds} s": "，约 {seconds} 秒",
    "Waiting for a place in the batch: {ahead}{eta}.": "正在等待批处理中的位置：{ahead}{eta}。",
    "Stopping…": "正在停止……",
    "Nothing is being generated.": "当前没有正在生成的内容。",
    "Removed the last turn.": "已删除上一轮。",
    "Cleared the conversation.": "已清空对话。",
    "`message` must not be empty, but is ''. Type a message first.": "`message` 不能为空，但现在是 ''。请先输入一条消息。",
    "Nothing to regenerate: the conversation has no user message yet.": "没有可重新生成的内容：对话中还没有用户消息。",
    "Nothing to undo: the conversation is empty.": "没有可撤销的内容：对话是空的。",
    # --- the plot (plot.py, plotdata.py, stages.py) ---
    "Send a message (or write a system prompt): the plot then shows the first token of the assistant's reply.":
        "发送一条消息（或写一个系统提示词）：图中随后显示助手回复的第一个 token。",
    "The distribution for this conversation is being computed; the plot follows when the model is free.":
        "正在计算这段对话的分布；模型空闲后图会更新。",
    "Next token": "下一个 token",
    "probability": "概率",
    "probability after penalties": "惩罚后的概率",
    "model probability": "模型概率",
    "cumulative": "累积",
    "cumulative probability": "累积概率",
    "cumulative probability (as top-p sees it)": "累积概率（top-p 所见）",
    "final probability (renormalised)": "最终概率（重新归一化）",
    "model probability (before penalties)": "模型概率（惩罚之前）",
    "chosen token": "选中的 token",
    "chosen": "选中",
    "kept": "保留",
    "model": "模型",
    "final": "最终",
    " (log)": "（对数）",
    "top_p = {p} (cumulative axis)": "top_p = {p}（累积轴）",
    "min-p cut-off: {p} × top probability": "min-p 截断：{p} × 最高概率",
    "min-p cut-off": "min-p 截断",
    "**{kept}** of {vocab} tokens survive the chain": "{vocab} 个 token 中有 **{kept}** 个通过了采样器链",
    "top {n} shown": "显示前 {n} 个",
    "Plot not updated: ": "图未更新：",
    " The slider put `{name}` back to {now}; the plot shows that.": " 滑块把 `{name}` 设回了 {now}；图显示的是这个值。",
    "first token of the reply to “{text}”": "对“{text}”的回复的第一个 token",
    "first token of the assistant speaking first, after the system prompt": "助手在系统提示词之后先开口的第一个 token",
    " ({n} prompt tokens)": "（提示词 {n} 个 token）",
    " ({n} prompt tokens, not sent yet)": "（提示词 {n} 个 token，尚未发送）",
    "a few likely openings (“What”, “A”, “Why”): move temperature and watch them trade places":
        "几个可能的开头（“What”、“A”、“Why”）：调节温度，看它们交换位置",
    "peaked: one token carries more than half the probability": "尖峰：一个 token 占了一半以上的概率",
    "flat: hundreds of tokens share the probability; top_p and min_p cut the long tail":
        "平坦：数百个 token 分享概率；top_p 和 min_p 截掉长尾",
    "tokens are pieces of words, and case matters: “Ban” and “ban” are different tokens":
        "token 是词的片段，而且区分大小写：“Ban”和“ban”是不同的 token",
    # stage labels (stages.py) and what removed a token
    "logit bias": "logit 偏置",
    "repetition penalty": "重复惩罚",
    "no-repeat n-gram": "禁止重复 n-gram",
    "min new tokens": "最少新 token",
    "presence/frequency": "存在/频率惩罚",
    "temperature": "温度",
    "dynamic temperature": "动态温度",
    "penalties": "惩罚",
    "transformers; the peers' samplers where text-generation-webui has them":
        "transformers；其他工具的采样器放在 text-generation-webui 放它们的位置",
    "text-generation-webui sampler_priority": "text-generation-webui 的 sampler_priority",
    "smoothing": "平滑",
    "typical": "典型采样",
    "tail-free": "无尾采样",
    "greedy (argmax)": "贪心（argmax）",
    "sample": "采样",
    "removed by dynamic temperature (T = 0: the top only)": "被动态温度去掉（T = 0：只留最高的）",
    "not the top token (greedy)": "不是最高的 token（贪心）",
    "removed by mirostat (surprise above mu)": "被 mirostat 去掉（惊奇度高于 mu）",
    "removed": "被去掉",
    # --- the explain panel ---
    "Send a message or pick an example: the panel explains the plot's step.": "发送一条消息或选一个示例：这里会解释图中的这一步。",
    "The plot's step is still being computed.": "图中的这一步仍在计算中。",
    "Not explained: ": "无法解释：",
    "No sampler changes this step: the model's own distribution is sampled as it is.":
        "这一步没有采样器做任何改变：直接从模型自己的分布中采样。",
    "**Off or not in the chain now:**": "**已关闭或当前不在链中：**",
    "Now: ": "现在：",
    ".": "。",
    # the formulas' words (Spec.formula, stages.py), as explain.mathy writes them
    "xₜ ~ softmax(z) if on, else argmax z": "开启时 xₜ ~ softmax(z)，否则 argmax z",
    "keep i if rank(i) ≤ k": "若 rank(i) ≤ k 则保留 i",
    "keep the top tokens until Σ pᵢ ≥ top_p": "保留头部 token，直到 Σ pᵢ ≥ top_p",
    "keep i if pᵢ ≥ min_p · maxⱼ pⱼ": "若 pᵢ ≥ min_p · maxⱼ pⱼ 则保留 i",
    "rank by |-log pᵢ - H|, keep until Σ pᵢ ≥ typical_p": "按 |-log pᵢ - H| 排序，保留直到 Σ pᵢ ≥ typical_p",
    "keep i if pᵢ ≥ epsilon": "若 pᵢ ≥ epsilon 则保留 i",
    "keep i if pᵢ ≥ min(eta, √(eta) · exp(-H))": "若 pᵢ ≥ min(eta, √(eta) · exp(-H)) 则保留 i",
    "zᵢ / r if zᵢ > 0 else zᵢ · r, for every i seen": "对每个出现过的 i：zᵢ > 0 时 zᵢ / r，否则 zᵢ · r",
    "zᵢ = −∞ if (x_{t-n+2..t}, i) already occurred": "若 (x_{t-n+2..t}, i) 已出现过则 zᵢ = −∞",
    "zₜ -= multiplier · base^(Lₜ - allowed_length) if Lₜ ≥ allowed_length":
        "若 Lₜ ≥ allowed_length 则 zₜ -= multiplier · base^(Lₜ - allowed_length)",
    "penalise when L ≥ allowed_length": "L ≥ allowed_length 时惩罚",
    "L is sought in the last n tokens": "在最近 n 个 token 中寻找 L",
    "keep i if zᵢ ≥ max z - n · σ": "若 zᵢ ≥ max z - n · σ 则保留 i",
    "with probability q, drop every pᵢ ≥ threshold but the least likely":
        "以概率 q 去掉所有 pᵢ ≥ threshold 的 token，只留其中最不可能的一个",
    "top choices: pᵢ ≥ threshold (two needed)": "头部候选：pᵢ ≥ threshold（至少两个）",
    "keep i if pᵢ ≥ a · p_max²": "若 pᵢ ≥ a · p_max² 则保留 i",
    "keep while cumsum(|p''|) / Σ(|p''|) ≤ z": "当 cumsum(|p''|) / Σ(|p''|) ≤ z 时保留",
    "cut -log2 pᵢ > μ; μ -= eta · (-log2 p(x) - τ)": "去掉 -log2 pᵢ > μ 的；μ -= eta · (-log2 p(x) - τ)",
    "μ starts at 2 τ": "μ 从 2 τ 开始",
    "μ -= eta · (surprise - τ)": "μ -= eta · (惊奇度 - τ)",
    "stop when t = max_new_tokens": "t = max_new_tokens 时停止",
    "z_eos = −∞ while t < min_new_tokens": "t < min_new_tokens 时 z_eos = −∞",
    "keep the num_beams best partial replies by Σ log p": "按 Σ log p 保留最好的 num_beams 个部分回复",
    "kept **{kept}** of {considered} tokens, carrying {mass} of the probability (removed {removed}); the top token {before} → {after}":
        "保留了 {considered} 个 token 中的 **{kept}** 个，占概率的 {mass}（去掉 {removed} 个）；最高 token 的概率 {before} → {after}",
    "removed no token; the top token {before} → {after}": "没有去掉任何 token；最高 token 的概率 {before} → {after}",
    # --- controls greyed by the mode ---
    "Inactive: {why} {help}": "未生效：{why} {help}",
    "greedy decoding (do_sample off or temperature 0) always takes the top token":
        "贪心解码（do_sample 关闭或温度为 0）总是取最高的 token",
    "it only applies to beam search (num_beams > 1)": "它只用于束搜索（num_beams > 1）",
    # --- validation fixes (params._fix_hint) ---
    "Use 1 to turn top-p off.": "用 1 关闭 top-p。",
    "Use 1 to turn typical sampling off.": "用 1 关闭典型采样。",
    "Use 0 for greedy decoding.": "用 0 表示贪心解码。",
    "Use 0 to turn top-k off.": "用 0 关闭 top-k。",
    "Use 1 to turn it off.": "用 1 关闭它。",
    "Remove some.": "请删掉一些。",
    "Pick a preset.": "请选择一个预设。",
    "Downloaded the current settings as **{name}**.": "已将当前设置下载为 **{name}**。",
    "No file chosen: pick a YAML preset file to upload.": "未选择文件：请选择一个要上传的 YAML 预设文件。",
    "The OpenAI body cannot carry: {what}.": "OpenAI 请求体无法携带：{what}。",
    "The OpenAI body carries every setting.": "OpenAI 请求体携带了所有设置。",
    " The llama.cpp request cannot carry: {lost}.": " llama.cpp 请求无法携带：{lost}。",
    " The llama.cpp request carries every setting.": " llama.cpp 请求携带了所有设置。",
    " The llama-cli line cannot carry: {lost}.": " llama-cli 命令行无法携带：{lost}。",
    " The llama-cli line carries every setting.": " llama-cli 命令行携带了所有设置。",
    " All use seed {seed}, the one the last reply drew.": " 全部使用随机种子 {seed}，即上一条回复抽到的那个。",
    "{n} messages": "{n} 条消息",
    "settings {what}": "设置 {what}",
    "step {k}": "第 {k} 步",
    "Link made: in the address bar and the box (and the clipboard where the browser allows it): ":
        "链接已生成：在地址栏和文本框中（浏览器允许时也在剪贴板中）：",
    " · {n} characters.": " · {n} 个字符。",
    "Saved preset **{name}** in this browser (it stays after a reload). Download keeps it as a file.":
        "已将预设 **{name}** 保存在本浏览器中（重新加载后仍在）。下载可将它保存为文件。",
    "Replaced preset **{name}** in this browser (it stays after a reload). Download keeps it as a file.":
        "已替换本浏览器中的预设 **{name}**（重新加载后仍在）。下载可将它保存为文件。",
    "Step mode: {n} tokens so far. ": "单步模式：目前 {n} 个 token。",
    "The next token's candidates are below: click one (or pick it in Force token) to take it instead of sampling, or Step / "
    "Step ×10 / Run to end.":
        "下一个 token 的候选在下方：点击一个（或在“强制 token”中选择）即采用它而不采样，或者单步 / 单步 ×10 / 运行到结束。",
    "Showing branch {name}.": "正在显示分支 {name}。",
    "The reply has ended ({finish}). Click one of its tokens to step from there (a new branch; this one stays listed), or "
    "type a message to start a new reply.":
        "回复已结束（{finish}）。点击它的一个 token 从那里继续单步（新的分支；这个分支仍会列出），或输入消息开始新的回复。",
    "All parameters are back to their defaults.": "所有参数已恢复默认值。",
    "Preset not loaded, nothing changed: ": "预设未加载，没有任何改变：",
    "Preset not saved: ": "预设未保存：",
    "Not downloaded: ": "未下载：",
    "Not exported: ": "未导出：",
    "No link made: ": "未生成链接：",
    "The model failed: ": "模型出错：",
    "The conversation is unchanged.": "对话保持不变。",
}
