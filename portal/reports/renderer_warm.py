"""Imported by the render forkserver only (``renderer._processes``): one tiny render there, so that fontconfig's
font cache and Pango are set up once and every render child forked from it starts warm (about half a second
less a render)."""

from .renderer import warm_up

warm_up()
