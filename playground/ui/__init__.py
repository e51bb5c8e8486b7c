"""The Gradio Blocks UI: `layout.build_demo(engine)` is the whole app.

controls.py: one control per parameter and the value conversions; chat.py: chat handlers; reply.py: the last
reply (the inspector's state); messages.py: the history's messages and the status line's text; wiring.py:
{name: value} handler results as gradio's {component: value}; plot.py: the Plotly figure and plot handlers;
presets_panel.py: preset handlers; layout.py: the page; inspector.py: the token inspector's handlers,
step_view.py: one step taken apart (formatting step_analysis.py's data), tokens_html.py: the coloured reply.
Core modules (playground/*.py) never import gradio or plotly; this package is the only one that does.
"""
