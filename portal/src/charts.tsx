// Charts with Chart.js (canvas), registered piecemeal so the bundle carries only what is drawn.
import { useEffect, useRef } from 'preact/hooks';
import {
  BarController, BarElement, CategoryScale, Chart, Filler, Legend, LineController, LineElement, LinearScale,
  PointElement, RadarController, RadialLinearScale, Tooltip, type ChartConfiguration,
} from 'chart.js';

Chart.register(
  BarController, BarElement, CategoryScale, LinearScale, RadarController, RadialLinearScale, PointElement,
  LineController, LineElement, Filler, Tooltip, Legend,
);
Chart.defaults.animation = false; // drawn at once: screenshots and slow machines alike
Chart.defaults.font.family = "'Hotline Sans SC', system-ui, sans-serif";

export function ChartBox({ config, label, height = 260 }: { config: ChartConfiguration; label: string; height?: number }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const chart = new Chart(canvas.current!, { ...config, options: { maintainAspectRatio: false, ...config.options } });
    return () => chart.destroy();
  }, [JSON.stringify(config.data)]);
  return (
    <figure class="chart" style={{ height: `${height}px` }}>
      <canvas ref={canvas} role="img" aria-label={label} />
    </figure>
  );
}
