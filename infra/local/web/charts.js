// The dashboard's chart library: Apache ECharts with only the charts and components the pages
// use, bundled by infra/local/web.sh (esbuild) into api/web/static/vendor/echarts.min.js. Half
// the size of the full build, and less to compile and run before the first chart of a page
// (docs/benchmarks.md, "Dashboard"). An option naming a component that is not registered here
// is silently not drawn: add it here when a page starts using one. Only the SVG renderer: the
// pages draw with it (api/web/static/dashboard.js).
import * as echarts from "echarts/core";
import { BarChart, CandlestickChart, LineChart, PieChart } from "echarts/charts";
import {
  DataZoomComponent,
  GridComponent,
  LegendComponent,
  MarkAreaComponent,
  MarkLineComponent,
  MarkPointComponent,
  TitleComponent,
  TooltipComponent,
} from "echarts/components";
import { SVGRenderer } from "echarts/renderers";

echarts.use([
  BarChart,
  CandlestickChart,
  LineChart,
  PieChart,
  DataZoomComponent,
  GridComponent,
  LegendComponent,
  MarkAreaComponent,
  MarkLineComponent,
  MarkPointComponent,
  TitleComponent,
  TooltipComponent,
  SVGRenderer,
]);
window.echarts = echarts;
