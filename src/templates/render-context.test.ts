import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderContext } from './render-context.js';

describe('renderContext', () => {
  it('namespaces producer data and exposes only the listed recipient fields', () => {
    const recipient = {
      name: '张三',
      externalId: '2024001',
      locale: 'zh-CN',
      email: 'a@b.c',
      phone: '1',
    };
    const ctx = renderContext({
      data: { recipient: 'spoof', course: 'Math' },
      recipient,
      source: { key: 'jwc', name: '教务处' },
      message: { id: 'm1', category: 'exam.schedule', locale: 'zh-CN' },
    });
    assert.deepEqual(ctx, {
      data: { recipient: 'spoof', course: 'Math' },
      recipient: { name: '张三', externalId: '2024001', locale: 'zh-CN' },
      source: { key: 'jwc', name: '教务处' },
      message: { id: 'm1', category: 'exam.schedule', locale: 'zh-CN' },
    });
  });
});
