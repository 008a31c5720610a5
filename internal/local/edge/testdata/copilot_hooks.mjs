// Module hooks for running copilot.js under Node's real ES module loader: the specifier
// 'cloudfront' resolves to cloudfront_module.mjs, and the copilot file is loaded as a module
// with one line appended, `export { handler };` (CloudFront calls the global handler; Node
// needs an export to hand it to the driver). Nothing else in the file changes.
let copilotURL = '';

export async function initialize(data) {
  copilotURL = data.copilotURL;
}

export async function resolve(specifier, context, next) {
  if (specifier === 'cloudfront') {
    return { url: new URL('./cloudfront_module.mjs', import.meta.url).href, shortCircuit: true };
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (url === copilotURL) {
    const loaded = await next(url, { ...context, format: 'module' });
    const source = String(loaded.source) + '\nexport { handler };\n';
    return { format: 'module', source, shortCircuit: true };
  }
  return next(url, context);
}
