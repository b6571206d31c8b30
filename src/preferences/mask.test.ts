import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { maskEmail, maskPhone } from './mask.js';

describe('masking contact points', () => {
  it('shows the first three and last four digits of a mobile number', () => {
    assert.equal(maskPhone('13812341234'), '138****1234');
    assert.equal(maskPhone('+86 138 1234 1234'), '138****1234');
  });
  it('keeps the domain and a hint of the name of an email address', () => {
    assert.equal(maskEmail('zhangsan@stu.example.edu.cn'), 'zh***@stu.example.edu.cn');
  });
});
