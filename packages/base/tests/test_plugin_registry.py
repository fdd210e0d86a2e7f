"""The one plugin registry, driven through real installed distributions (dist-info on sys.path)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pluggy
import pytest
from yoi_base.registry import (
    ExtensionPoint,
    PluginConflictError,
    PluginError,
    UnknownPluginError,
    clear_registries,
    installed_extension_points,
    installed_plugins,
    registry,
)

GROUP = "yoi.test_widgets"
hookspec = pluggy.HookspecMarker(GROUP)


@dataclass(frozen=True)
class Widget:
    name: str


class WidgetSpec:
    @hookspec
    def yoi_test_widgets(self) -> list[Widget]:  # type: ignore[empty-body]
        """Return widgets."""


def widget_module(*names: str) -> str:
    """Source of a plugin module that registers widgets with these names."""
    return textwrap.dedent(
        f"""
        import pluggy
        from test_plugin_registry import Widget

        hookimpl = pluggy.HookimplMarker({GROUP!r})

        @hookimpl
        def yoi_test_widgets():
            return [Widget(name) for name in {names!r}]
        """
    )


class Site:
    """A directory on sys.path where tests install modules and distributions."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def module(self, name: str, source: str) -> None:
        (self.root / f"{name}.py").write_text(source, encoding="utf-8")

    def distribution(self, name: str, version: str, entry_points: str, **modules: str) -> None:
        """Lay out an installed distribution (dist-info and modules) as an installer would."""
        dist_info = self.root / f"{name.replace('-', '_')}-{version}.dist-info"
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
        )
        (dist_info / "entry_points.txt").write_text(entry_points, encoding="utf-8")
        for module, source in modules.items():
            self.module(module, source)

    def widget_plugin(self, distribution: str, version: str, name: str, *widgets: str) -> None:
        """Install a distribution with one plugin, ``name``, that registers these widgets."""
        module = f"{name}_widgets"
        entry_points = f"[{GROUP}]\n{name} = {module}\n"
        self.distribution(distribution, version, entry_points, **{module: widget_module(*widgets)})


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("YOI_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    before = set(sys.modules)
    yield Site(tmp_path)
    for name in set(sys.modules) - before - {"test_plugin_registry"}:
        del sys.modules[name]
    clear_registries()


@pytest.fixture
def widgets(site: Site) -> ExtensionPoint[Widget]:
    """An extension point whose distribution ships one built-in plugin with two widgets."""
    site.distribution("yoi-widgets", "2.0.0", "", widgets_builtin=widget_module("b", "a"))
    return ExtensionPoint(
        group=GROUP,
        hookspecs=WidgetSpec,
        hook="yoi_test_widgets",
        kind="test_widget",
        key=lambda widget: widget.name,
        distribution="yoi-widgets",
        builtins={"builtin": "widgets_builtin"},
    )


def test_builtins_and_installed_plugins_with_their_distributions(
    site: Site, widgets: ExtensionPoint[Widget]
) -> None:
    site.widget_plugin("extra-widgets", "1.4.0", "extra", "c")
    found = registry(widgets)
    assert list(found.registered) == ["a", "b", "c"]
    assert found.get("c") == Widget("c")
    extra = found.registered["c"]
    assert (extra.plugin, extra.distribution, extra.version) == (
        "extra-widgets:extra",
        "extra-widgets",
        "1.4.0",
    )
    assert [(p.name, p.distribution, p.version, p.registers) for p in found.plugins()] == [
        ("extra-widgets:extra", "extra-widgets", "1.4.0", (("test_widget", "c"),)),
        (
            "yoi-widgets:builtin",
            "yoi-widgets",
            "2.0.0",
            (("test_widget", "a"), ("test_widget", "b")),
        ),
    ]


def test_one_name_from_two_distributions_is_one_error_naming_both(
    site: Site, widgets: ExtensionPoint[Widget]
) -> None:
    site.widget_plugin("rival-widgets", "0.1.0", "rival", "a")
    with pytest.raises(PluginConflictError) as caught:
        registry(widgets)
    assert str(caught.value) == (
        "test widget 'a' is provided by both yoi-widgets and rival-widgets; uninstall one of them"
    )
    assert isinstance(caught.value, PluginError) and isinstance(caught.value, RuntimeError)


def test_an_unknown_name_lists_what_is_installed(widgets: ExtensionPoint[Widget]) -> None:
    with pytest.raises(UnknownPluginError) as caught:
        registry(widgets).get("zz")
    assert str(caught.value) == "no test widget for name 'zz' (installed: a, b)"
    assert isinstance(caught.value, PluginError) and isinstance(caught.value, ValueError)


def test_disabling_autoload_keeps_only_the_builtins(
    site: Site, widgets: ExtensionPoint[Widget], monkeypatch: pytest.MonkeyPatch
) -> None:
    site.widget_plugin("extra-widgets", "1.4.0", "extra", "c")
    monkeypatch.setenv("YOI_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert list(registry(widgets).registered) == ["a", "b"]
    assert "extra_widgets" not in sys.modules
    monkeypatch.setenv("YOI_DISABLE_PLUGIN_AUTOLOAD", "")
    assert list(registry(widgets).registered) == ["a", "b", "c"]


def test_a_registry_is_built_once_until_cleared(
    site: Site, widgets: ExtensionPoint[Widget]
) -> None:
    first = registry(widgets)
    site.widget_plugin("late-widgets", "1.0.0", "late", "d")
    assert registry(widgets) is first
    assert "d" not in first.registered
    clear_registries()
    assert "d" in registry(widgets).registered


def test_every_installed_extension_point_is_listed_without_a_list_of_kinds(site: Site) -> None:
    # Two points of one distribution, each declared in a few lines and named in the
    # yoi.extension_points group; their plugins are merged by name, points in group order.
    site.module(
        "gadget_points",
        textwrap.dedent(
            """
            import pluggy
            from yoi_base.registry import ExtensionPoint

            widget_spec = pluggy.HookspecMarker("yoi.test_a_widgets")
            gadget_spec = pluggy.HookspecMarker("yoi.test_b_gadgets")
            widget_impl = pluggy.HookimplMarker("yoi.test_a_widgets")
            gadget_impl = pluggy.HookimplMarker("yoi.test_b_gadgets")

            class Specs:
                @widget_spec
                def widgets(self): ...

                @gadget_spec
                def gadgets(self): ...

            @widget_impl
            def widgets():
                return ["w2", "w1"]

            @gadget_impl
            def gadgets():
                return ["g1"]

            def point(group, hook, kind):
                return ExtensionPoint(
                    group=group, hookspecs=Specs, hook=hook, kind=kind, key=str,
                    distribution="yoi-gadgets", builtins={"builtin": "gadget_points"},
                )

            GADGETS = point("yoi.test_b_gadgets", "gadgets", "gadget")
            WIDGETS = point("yoi.test_a_widgets", "widgets", "widget")
            """
        ),
    )
    site.distribution(
        "yoi-gadgets",
        "3.0.0",
        "[yoi.extension_points]\ngadget = gadget_points:GADGETS\nwidget = gadget_points:WIDGETS\n",
    )
    assert {"gadget", "widget"} <= {point.kind for point in installed_extension_points()}
    [plugin] = [p for p in installed_plugins() if p.distribution == "yoi-gadgets"]
    assert (plugin.name, plugin.version) == ("yoi-gadgets:builtin", "3.0.0")
    assert plugin.registers == (("widget", "w1"), ("widget", "w2"), ("gadget", "g1"))


def test_a_declaration_that_is_not_an_extension_point_is_refused(site: Site) -> None:
    site.distribution(
        "broken-point",
        "1.0.0",
        "[yoi.extension_points]\nbroken = broken_point:POINT\n",
        broken_point="POINT = 'not a point'\n",
    )
    with pytest.raises(PluginError, match=r"'broken' in yoi.extension_points .* not an"):
        installed_extension_points()


def test_importing_yoi_base_and_its_paths_loads_no_plugin_machinery() -> None:
    code = (
        "import sys, yoi_base, yoi_base.paths\n"
        "print(sorted(m for m in ('pluggy', 'yoi_base.registry') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
