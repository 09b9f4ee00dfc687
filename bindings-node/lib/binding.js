'use strict'
// Loads the native addon through the loader `napi build` generates (../native.js). That loader tries,
// in order, a `.node` file beside the package (a local `napi build`, for development and tests) and
// then the platform package for this platform (`confirma-sdk-<platform>`, an optional dependency of
// confirma-sdk that npm installs only where its os/cpu/libc fields match). When neither loads, the
// error below names the platform package that is missing, rather than napi's generic message.

const { name: PACKAGE, version: VERSION, napi } = require('../package.json')

// napi target triple -> the platform suffix napi-rs uses for file and package names.
const TRIPLE_SUFFIX = {
  'x86_64-unknown-linux-gnu': 'linux-x64-gnu',
  'x86_64-unknown-linux-musl': 'linux-x64-musl',
  'aarch64-unknown-linux-gnu': 'linux-arm64-gnu',
  'aarch64-unknown-linux-musl': 'linux-arm64-musl',
  'x86_64-apple-darwin': 'darwin-x64',
  'aarch64-apple-darwin': 'darwin-arm64',
  'x86_64-pc-windows-msvc': 'win32-x64-msvc',
  'aarch64-pc-windows-msvc': 'win32-arm64-msvc'
}

function isMusl () {
  if (process.platform !== 'linux') return false
  try {
    const header = process.report.getReport().header
    return !header.glibcVersionRuntime
  } catch {
    return false
  }
}

/** The napi-rs platform suffix of the running process, e.g. `linux-x64-gnu`. */
function currentPlatform () {
  const { platform, arch } = process
  if (platform === 'linux') return `${platform}-${arch}-${isMusl() ? 'musl' : 'gnu'}`
  if (platform === 'win32') return `${platform}-${arch}-msvc`
  return `${platform}-${arch}`
}

function supportedPlatforms () {
  return ((napi && napi.targets) || []).map((t) => TRIPLE_SUFFIX[t] || t)
}

function loadError (cause, platform = currentPlatform()) {
  const wanted = `${PACKAGE}-${platform}`
  const supported = supportedPlatforms()
  const list = supported.map((p) => `${PACKAGE}-${p}`).join(', ') || '(none)'
  let message
  if (supported.includes(platform)) {
    message =
      `${PACKAGE}: the native addon for ${platform} could not be loaded: the platform package ` +
      `${wanted}@${VERSION} is missing or broken. npm installs it as an optional dependency of ` +
      `${PACKAGE}; it is absent after \`npm install --omit=optional\` (or --no-optional), or when ` +
      `node_modules was copied from another platform. Fix: \`npm install ${wanted}@${VERSION}\`, ` +
      `or reinstall ${PACKAGE}.`
  } else {
    message =
      `${PACKAGE}: this platform (${platform}) is not supported: there is no platform package ` +
      `${wanted}. Platform packages published for ${PACKAGE}@${VERSION}: ${list}.`
  }
  const error = new Error(message)
  error.code = 'CONFIRMA_NATIVE_ADDON_NOT_FOUND'
  error.platformPackage = wanted
  error.cause = cause
  return error
}

function load () {
  let loader
  try {
    loader = require.resolve('../native.js')
  } catch (cause) {
    // A source checkout before `napi build`: the generated loader itself is absent.
    const error = new Error(
      `${PACKAGE}: native.js (the loader \`napi build\` generates) is missing: build the addon ` +
        'first (bindings-node: `npm run build`, or `bash scripts/test.sh`).'
    )
    error.code = 'CONFIRMA_NATIVE_ADDON_NOT_FOUND'
    error.cause = cause
    throw error
  }
  try {
    return require(loader)
  } catch (cause) {
    throw loadError(cause)
  }
}

module.exports = { load, loadError, currentPlatform, supportedPlatforms }
