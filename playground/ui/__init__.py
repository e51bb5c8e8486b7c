"""The Gradio Blocks UI: `layout.build_demo(engine)` is the whole local app (`server.build_app` mounts it with the
API); `remote_page.build_remote_demo(backend)` is the page on a remote server (remote_chat.py: its handlers).

controls.py: one control per parameter and the value conversions; chat.py: chat handlers; driver.py: the reply flow
send and regenerate share with remote_chat.py; reply.py: the last reply (the inspector's state); messages.py: the
history's messages and the status line's text; wiring.py: {name: value} handler results as gradio's {component:
value}; plot.py: the Plotly figure and plot handlers; presets_panel.py: preset handlers; layout.py: the page
(page_parts.py: what it shares with remote_page.py); inspector.py: the token inspector's handlers, step_view.py:
one step taken apart (formatting step_analysis.py's data), tokens_html.py: the coloured reply; page.py: the `Page`
holding every component; i18n.py (+ i18n_zh.py): English and Chinese; the panels: explain.py, order_panel.py,
export_panel.py, share_panel.py, compare_panel.py, presenter.py, inspector_panel.py.
Core modules (playground/*.py) never import gradio or plotly; this package is the only one that does.
"""
