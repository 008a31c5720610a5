// The 'cloudfront' module for running copilot.js under Node: cf.kvs() returns a handle over
// the entries the driver (copilot_node.mjs) puts in globalThis.__cvsKVS, with CloudFront's
// semantics: get() rejects for a missing key or when the store is set to fail.
function handle() {
  const store = globalThis.__cvsKVS;
  return {
    async get(key, options) {
      if (store.fail) {
        throw new Error('KeyValueStore unavailable');
      }
      if (typeof key !== 'string' || !Object.prototype.hasOwnProperty.call(store.items, key)) {
        throw new Error('key not found: ' + key);
      }
      const value = store.items[key];
      const format = options && options.format ? options.format : 'string';
      if (format === 'json') {
        return JSON.parse(value);
      }
      if (format === 'bytes') {
        return Buffer.from(value);
      }
      if (format !== 'string') {
        throw new Error('unknown format ' + format);
      }
      return value;
    },
    async exists(key) {
      if (store.fail) {
        throw new Error('KeyValueStore unavailable');
      }
      return Object.prototype.hasOwnProperty.call(store.items, key);
    },
  };
}

export default { kvs: handle };
