"""The teaching app: ``retailsim app [SCENARIO] [--port P]`` serves this page with Solara.

Built with mesa's SolaraViz: the sidebar holds Reset, Play and Step and the controls
(defaults from the scenario, see :mod:`sim.viz.params`); the page shows the map, the
live charts, the flows between retailers over the last quarter, and one consumer's
story. ``solara run sim/viz/app.py`` works too (the scenario then comes from
``$RETAILSIM_APP_SCENARIO`` or is scenarios/classroom.toml).
"""

from __future__ import annotations

import solara
from mesa.visualization import SolaraViz

from sim.viz import params
from sim.viz.market import ClassroomMarket, app_scenario
from sim.viz.panels import ChartsPanel, FlowsPanel, MapPanel, StoryPanel


def make_page(scenario=None, model=None):
    """The SolaraViz page for a scenario (default: the app's scenario) and a model of it."""
    scenario = scenario or app_scenario()
    model = model or ClassroomMarket(base=scenario)
    return SolaraViz(
        model,
        components=[(MapPanel, 0), (ChartsPanel, 0), (FlowsPanel, 0), (StoryPanel, 0)],
        model_params=params.model_params(scenario),
        name=f"retailsim: {scenario.name}",
        play_interval=150,
    )


@solara.component
def Page():
    # one model per browser session, built once (not at every render)
    scenario = solara.use_memo(app_scenario, [])
    model = solara.use_memo(lambda: ClassroomMarket(base=scenario), [])
    make_page(scenario, model)
