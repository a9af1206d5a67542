import {describe, expect, it} from 'vitest'

import {ExporterMetrics} from '../../../src/exporter/metrics.js'

describe('exporter metrics', () => {
  it('every module starts at 0 for every outcome; probes and requests are counted', () => {
    const metrics = new ExporterMetrics(['default', 'mtls'], '1.2.3')
    metrics.probed('mtls', 'ok', 0.25)
    metrics.probed('mtls', 'failed', 0.5)
    metrics.probed('mtls', 'rejected', 0)
    metrics.requested('/probe', 200)
    metrics.requested('/probe', 200)
    metrics.requested('other', 404)
    const text = metrics.render({running: 1, queued: 2, limit: 8})
    expect(text).toMatch(/^valkey_tls_exporter_build_info\{version="1\.2\.3",nodejs="[\d.]+"\} 1$/m)
    expect(text).toMatch(/^valkey_tls_exporter_probes_total\{module="default",outcome="ok"\} 0$/m)
    expect(text).toMatch(/^valkey_tls_exporter_probes_total\{module="mtls",outcome="ok"\} 1$/m)
    expect(text).toMatch(/^valkey_tls_exporter_probes_total\{module="mtls",outcome="rejected"\} 1$/m)
    expect(text).toMatch(/^valkey_tls_exporter_probe_duration_seconds_sum\{module="mtls"\} 0\.75$/m)
    expect(text).toMatch(/^valkey_tls_exporter_probe_duration_seconds_count\{module="mtls"\} 2$/m)
    expect(text).toMatch(/^valkey_tls_exporter_probes_running 1$/m)
    expect(text).toMatch(/^valkey_tls_exporter_probes_waiting 2$/m)
    expect(text).toMatch(/^valkey_tls_exporter_http_requests_total\{handler="\/probe",code="200"\} 2$/m)
    expect(text).toMatch(/^valkey_tls_exporter_http_requests_total\{handler="other",code="404"\} 1$/m)
    expect(text).toMatch(/^process_start_time_seconds \d+(\.\d+)?$/m)
    expect(text.endsWith('\n')).toBe(true)
    // Each family once, HELP and TYPE before its samples.
    const types = text.match(/^# TYPE (\S+)/gm)!
    expect(new Set(types).size).toBe(types.length)
  })
})
