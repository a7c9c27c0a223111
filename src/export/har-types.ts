// The HAR 1.2 entry as kubewire writes and reads it, and its "_kubewire" block: what a HAR entry
// cannot say by itself, kept so that an export re-imports to the same exchange.
import type { CapturedBody, Exchange, ExchangeSource, RequestInfo, Timing } from "../types.js";

export interface HarNameValue {
  name: string;
  value: string;
}

export interface HarTimings {
  blocked?: number;
  dns?: number;
  connect?: number;
  send: number;
  wait: number;
  receive: number;
  ssl?: number;
}

export interface HarEntry {
  startedDateTime: string;
  time: number;
  request: {
    method: string;
    url: string;
    httpVersion: string;
    cookies: unknown[];
    headers: HarNameValue[];
    queryString: HarNameValue[];
    postData?: { mimeType: string; text?: string; comment?: string; _encoding?: string };
    headersSize: number;
    bodySize: number;
  };
  response: {
    status: number;
    statusText: string;
    httpVersion: string;
    cookies: unknown[];
    headers: HarNameValue[];
    content: { size: number; compression?: number; mimeType: string; text?: string; encoding?: string; comment?: string };
    redirectURL: string;
    headersSize: number;
    bodySize: number;
    /** no response: the error (mitmproxy's flow.error) */
    _error?: string;
    _transferSize?: number;
  };
  cache: Record<string, never>;
  timings: HarTimings;
  serverIPAddress?: string;
  comment?: string;
  _kubewire?: KubewireExtra;
}

/** What a HAR entry cannot say by itself (checked field by field on import: src/export/har-read.ts). */
export interface KubewireExtra {
  version: 1;
  id: number | null;
  origin: string;
  replayOf: number | null;
  context: string;
  clusterUrl: string;
  kubeUser: string;
  kubeCluster?: string;
  client: Exchange["client"];
  info: RequestInfo;
  timing: Timing;
  tls: Exchange["tls"];
  error: Exchange["error"];
  stream: Exchange["stream"];
  protocol?: Exchange["protocol"];
  connection?: Exchange["connection"];
  /** where it was recorded (host, run, pod, namespace, serviceAccount), when known */
  source?: ExchangeSource;
  requestBytes: number;
  requestBody: BodyMeta | null;
  responseBody: BodyMeta | null;
  /** what kubewire answered the client itself (the HAR response is then status 0 with _error, as mitmproxy writes) */
  proxyAnswer?: Exchange["proxyAnswer"];
  /** a fault rule made this exchange's answer on purpose */
  injected?: Exchange["injected"];
  /** written by kubewire before its own answers were kept apart: true when the HAR response was kubewire's answer */
  fromProxy?: boolean;
  /** decoded response body bytes (HAR's bodySize holds the bytes as sent) */
  responseBytes?: number;
  responseWireBytes?: number;
  requestWireBytes?: number;
}

export type BodyMeta = Pick<CapturedBody, "encoding" | "truncated" | "size" | "contentEncoding" | "sizeIsLowerBound"> & { protobuf?: string };

export const HAR_VERSION = "1.2";
