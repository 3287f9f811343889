/**
 * History <-> the JSON other Temporal tools write (proto3 JSON, as `temporal workflow show --output json`), done as
 * @temporalio/common's historyToJSON/historyFromJSON do, but with the protobufjs copy that @temporalio/proto's types
 * were built with. In this install @temporalio/common and @temporalio/proto each carry their own protobufjs 8, so
 * those helpers mix two copies and throw "type must be a Type"; resolving protobufjs from @temporalio/proto keeps one.
 */
import { createRequire } from 'node:module';
import type { temporal } from '@temporalio/proto';
import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';

type History = temporal.api.history.v1.IHistory;
interface ProtoJson {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
}

const protojson = createRequire(require.resolve('@temporalio/proto'))('protobufjs/ext/protojson') as ProtoJson;
const historyType = (patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }).lookupType(
  'temporal.api.history.v1.History',
);

export function historyToJson(history: History): string {
  const message = proto.temporal.api.history.v1.History.fromObject(history as Record<string, unknown>);
  return JSON.stringify(protojson.toJson(historyType, message), null, 2);
}

export function historyFromJson(json: unknown): History {
  // Tolerate fields a newer server writes, as the SDK's own reader does.
  const history = protojson.fromJson(historyType, json, { ignoreUnknownFields: true });
  if (!history) throw new TypeError('not a history');
  return history as History;
}
