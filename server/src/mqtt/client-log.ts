// Guards the MQTT client's hot path from its own debug logging. mqtt.js logs
// through the `debug` package unless given a `log` function; that logger
// gathers its arguments into an array on every call, also when disabled, and
// mqtt.js calls it several times per packet: about 2 KiB of garbage for each
// event received under load. The gateway hands mqtt.js a function that ignores
// its arguments, unless DEBUG asks for mqtt.js's log (`DEBUG=mqttjs*`).

/** mqtt.js's client namespace in the `debug` package. */
export const MQTT_CLIENT_NAMESPACE = 'mqttjs:client';

/**
 * Whether a DEBUG value (the `debug` package's syntax: names separated by
 * commas or spaces, `*` for any text, a leading `-` to leave a name out)
 * enables `namespace`. A matching exclusion wins over any inclusion.
 */
export function debugEnables(debugValue: string | undefined, namespace: string): boolean {
  let enabled = false;
  for (const item of (debugValue ?? '').split(/[\s,]+/)) {
    if (!item || item === '-') continue;
    const excluded = item.startsWith('-');
    const name = excluded ? item.slice(1) : item;
    const pattern = new RegExp(`^${name.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*')}$`);
    if (!pattern.test(namespace)) continue;
    if (excluded) return false;
    enabled = true;
  }
  return enabled;
}

const ignore = (): void => {};

/** The `log` option for mqtt.js clients: undefined (mqtt.js's own logger) when DEBUG enables it. */
export function mqttClientLog(debugValue: string | undefined): (() => void) | undefined {
  return debugEnables(debugValue, MQTT_CLIENT_NAMESPACE) ? undefined : ignore;
}
