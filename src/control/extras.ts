// What a recording session adds beside the proxy for faults and observability: the fault engine
// (rules from --fault/--faults, changeable through the control endpoint), the Prometheus endpoint
// and the JSON connection log, all fed by wrapping the session's ExchangeSink. Metrics (prom-client)
// and the control endpoint are loaded only when asked for: every exec run starts through here.
import { FaultEngine, type RecordSink } from "../fault/engine.js";
import { loadRules, type FaultRule } from "../fault/rules.js";
import { ConnectionLog } from "../metrics/log.js";
import type { KubewireMetrics, RecorderGauges } from "../metrics/registry.js";
import type { MetricsEndpoint } from "../metrics/server.js";
import type { Exchange } from "../types.js";
import type { ControlEndpoint } from "./control.js";

export interface ExtrasOptions {
  /** inline `--fault` rules, in order */
  fault?: string[];
  /** a rules file (`--faults FILE`) */
  faultsFile?: string;
  /** rules already parsed (tests, demo) */
  rules?: FaultRule[];
  /** serve the control endpoint for `kubewire faults` (start does; exec does not need to) */
  control?: boolean;
  metrics?: { host: string; port: number };
  allowRemote?: boolean;
  logFormat?: "text" | "json";
  logFile?: string;
}

export interface SessionExtras {
  /** null when nothing asks for it, so the proxy does no extra work */
  faults: FaultEngine | undefined;
  sink: RecordSink;
  metrics: KubewireMetrics | null;
  metricsUrl: string | null;
  controlUrl: string | null;
  close(): Promise<void>;
}

export async function startExtras(o: ExtrasOptions | undefined, ctx: { sink: RecordSink & RecorderGauges; token: string; stateDir: string }): Promise<SessionExtras> {
  const opts = o ?? {};
  const rules = loadRules(opts);
  const metrics = opts.metrics ? new (await import("../metrics/registry.js")).KubewireMetrics(ctx.sink) : null;
  const log = opts.logFormat === "json" ? new ConnectionLog({ file: opts.logFile }) : null;
  const wanted = rules.length > 0 || !!opts.control || !!metrics || !!log;
  const faults = wanted
    ? new FaultEngine(rules, {
        onArrival: metrics ? (ex) => metrics.arrived(ex) : undefined,
        onInjected: (ex, inj) => {
          metrics?.faultInjected(inj.rule, inj.action);
          log?.faultInjected(ex, inj.rule, inj.action);
        },
      })
    : undefined;
  const sink: RecordSink =
    metrics || log
      ? {
          record(ex: Exchange) {
            metrics?.observe(ex);
            log?.observe(ex);
            ctx.sink.record(ex);
          },
        }
      : ctx.sink;
  let endpoint: MetricsEndpoint | null = null;
  let control: ControlEndpoint | null = null;
  try {
    if (metrics && opts.metrics) endpoint = await (await import("../metrics/server.js")).serveMetrics(metrics, opts.metrics, !!opts.allowRemote);
    if (faults && opts.control) control = await (await import("./control.js")).startControl(faults, ctx.token, ctx.stateDir);
  } catch (err) {
    await endpoint?.close();
    throw err;
  }
  return {
    faults,
    sink,
    metrics,
    metricsUrl: endpoint?.url ?? null,
    controlUrl: control?.url ?? null,
    close: async () => {
      await control?.close();
      await endpoint?.close();
      await log?.close();
    },
  };
}
