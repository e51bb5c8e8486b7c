"""The Gradio Blocks UI: `layout.build_demo(engine)` is the whole app.

controls.py: one control per parameter and the value conversions; chat.py: chat handlers;
plot.py: the Plotly figure and plot handlers; presets_panel.py: preset handlers; layout.py: the page;
inspector.py: the token inspector's handlers, step_view.py: one step taken apart, tokens_html.py: the coloured reply.
Core modules (playground/*.py) never import gradio or plotly; this package is the only one that does.
"""
