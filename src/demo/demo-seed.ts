import { randomBytes } from 'node:crypto';
import type { Db, Tx } from '../store/database.js';
import type { Priority } from '../store/schema.js';
import { newId } from '../store/ids.js';
import type { Channel } from '../channels/channel.js';
import { hashPassword } from '../auth/secrets.js';
import { OPERATOR_ROLE } from '../auth/operators.js';
import { insertSource } from '../sources/sources-store.js';
import { upsertUsers, type UserInput } from '../recipients/users-store.js';
import { createGroup, type GroupInput } from '../recipients/groups-store.js';

/**
 * A demo agricultural university (`HERALD_DEMO=true` on an empty database): five colleges
 * with their departments and classes, ~300 students, teachers and staff, groups, the campus
 * offices as sources, six categories and their templates in Chinese and English. Everything
 * but the password is deterministic, so the README tour and screenshots look the same on
 * every machine.
 */
export interface DemoSeed {
  readonly users: number;
  /** The message-center password every demo user shares (random per seed, shown once). */
  readonly password: string;
  /**
   * Well-known logins: a Chinese-speaking and an English-speaking undergraduate of 农学院, and
   * the operator (DEMO_OPERATOR) whose session opens the console.
   */
  readonly loginExamples: { readonly zh: string; readonly en: string; readonly operator: string };
  readonly sources: string[];
  readonly categories: string[];
}

/**
 * The demo operator: the first staff member of 教务处, who also holds OPERATOR_ROLE, so their
 * login (with the demo password) opens the console at /admin.
 */
export const DEMO_OPERATOR = 'T2001';

export const DEMO_UNIVERSITY = { 'zh-CN': 'XX农业大学', en: 'XX Agricultural University' } as const;

export type DemoCategoryKey =
  | 'exam.reminder'
  | 'course.change'
  | 'canteen.menu'
  | 'library.due'
  | 'activity.notice'
  | 'campus.emergency';

/**
 * Example message `data` per category: every field its templates use (as `data.<field>`), so
 * the README tour or a test can send a realistic message of each kind.
 */
export const DEMO_EXAMPLES: Readonly<Record<DemoCategoryKey, Readonly<Record<string, unknown>>>> = {
  'exam.reminder': {
    course: '植物生理学',
    time: '2025-01-08 09:00–11:00',
    room: '北区教学楼 A201',
    seat: '17',
  },
  'course.change': {
    course: '作物栽培学',
    oldTime: '周三 第3–4节',
    newTime: '周五 第5–6节',
    room: '南区实验楼 305',
  },
  'canteen.menu': {
    canteen: '北苑第一食堂',
    date: '2025-01-06',
    dishes: ['红烧肉', '番茄炒蛋', '清炒时蔬', '紫菜蛋花汤'],
  },
  'library.due': { book: '作物育种学（第3版）', dueDate: '2025-01-15' },
  'activity.notice': {
    title: '第十届校园农耕文化节',
    time: '2025-04-20 14:00',
    place: '南校区田径场',
  },
  'campus.emergency': {
    title: '暴雨橙色预警',
    instructions: '今晚至明天白天有大暴雨，请留在室内，远离低洼地带、实验田和鱼塘，非必要不外出。',
  },
};

interface DemoCategory {
  readonly key: DemoCategoryKey;
  readonly name: { readonly 'zh-CN': string; readonly en: string };
  readonly priority: Priority;
  readonly mandatory: boolean;
  readonly defaultChannels: readonly Channel[];
  readonly maxAttempts: number;
}

export const DEMO_CATEGORIES: readonly DemoCategory[] = [
  {
    key: 'exam.reminder',
    name: { 'zh-CN': '考试提醒', en: 'Exam reminder' },
    priority: 'normal',
    mandatory: false,
    defaultChannels: ['in_app', 'sms', 'wechat'],
    maxAttempts: 5,
  },
  {
    key: 'course.change',
    name: { 'zh-CN': '调课通知', en: 'Course change' },
    priority: 'normal',
    mandatory: false,
    defaultChannels: ['in_app', 'wechat', 'email'],
    maxAttempts: 5,
  },
  {
    key: 'canteen.menu',
    name: { 'zh-CN': '食堂菜单', en: 'Canteen menu' },
    priority: 'bulk',
    mandatory: false,
    defaultChannels: ['in_app'],
    maxAttempts: 3,
  },
  {
    key: 'library.due',
    name: { 'zh-CN': '图书到期提醒', en: 'Library due date' },
    priority: 'normal',
    mandatory: false,
    defaultChannels: ['in_app', 'email'],
    maxAttempts: 5,
  },
  {
    key: 'activity.notice',
    name: { 'zh-CN': '校园活动', en: 'Campus activity' },
    priority: 'bulk',
    mandatory: false,
    defaultChannels: ['in_app', 'wechat'],
    maxAttempts: 3,
  },
  {
    key: 'campus.emergency',
    name: { 'zh-CN': '校园紧急通知', en: 'Campus emergency' },
    priority: 'urgent',
    mandatory: true,
    defaultChannels: ['in_app', 'sms', 'wechat', 'email'],
    maxAttempts: 10,
  },
];

export const DEMO_SOURCES: readonly {
  key: string;
  name: string;
  categories: readonly DemoCategoryKey[];
}[] = [
  { key: 'jwc', name: '教务处', categories: ['exam.reminder', 'course.change'] },
  { key: 'hq', name: '后勤处', categories: ['canteen.menu'] },
  { key: 'xsc', name: '学生处', categories: ['activity.notice'] },
  { key: 'lib', name: '图书馆', categories: ['library.due', 'activity.notice'] },
  { key: 'bwc', name: '保卫处', categories: ['campus.emergency'] },
];

interface TemplateText {
  readonly subject?: string;
  readonly title?: string;
  readonly body: string;
}

type Locale = 'zh-CN' | 'en';

const ZH = DEMO_UNIVERSITY['zh-CN'];
const EN = DEMO_UNIVERSITY.en;

/**
 * Liquid templates, rendered with the context of templates/render-context.ts: the message data
 * as `data.*`, the recipient as `recipient.*`. Optional fields (`seat`) are guarded by `{% if %}`.
 */
export const DEMO_TEMPLATES: Readonly<
  Record<DemoCategoryKey, Partial<Record<Channel, Record<Locale, TemplateText>>>>
> = {
  'exam.reminder': {
    in_app: {
      'zh-CN': {
        title: '考试提醒：{{ data.course }}',
        body:
          '{{ recipient.name }}同学，你好！《{{ data.course }}》考试将于 {{ data.time }} 在 {{ data.room }} 举行' +
          '{% if data.seat %}，你的座位号是 {{ data.seat }}{% endif %}。请携带学生证和身份证，提前 15 分钟到场。祝考试顺利！',
      },
      en: {
        title: 'Exam reminder: {{ data.course }}',
        body:
          'Dear {{ recipient.name }}, your {{ data.course }} exam takes place at {{ data.time }} in {{ data.room }}' +
          '{% if data.seat %} (seat {{ data.seat }}){% endif %}. Please bring your student ID card and arrive 15 minutes early. Good luck!',
      },
    },
    sms: {
      'zh-CN': {
        body: `【${ZH}】{{ recipient.name }}同学：《{{ data.course }}》考试 {{ data.time }}，{{ data.room }}{% if data.seat %}，座位 {{ data.seat }}{% endif %}。请带好证件提前到场。`,
      },
      en: {
        body: `[${EN}] {{ recipient.name }}: {{ data.course }} exam at {{ data.time }}, {{ data.room }}{% if data.seat %}, seat {{ data.seat }}{% endif %}. Bring your ID.`,
      },
    },
    wechat: {
      'zh-CN': {
        title: '考试提醒',
        body:
          '{{ recipient.name }}同学，你好！你有一场考试即将开始：\n课程：{{ data.course }}\n时间：{{ data.time }}\n地点：{{ data.room }}' +
          '{% if data.seat %}\n座位：{{ data.seat }}{% endif %}\n请提前 15 分钟到场。',
      },
      en: {
        title: 'Exam reminder',
        body:
          'Dear {{ recipient.name }}, you have an upcoming exam:\nCourse: {{ data.course }}\nTime: {{ data.time }}\nRoom: {{ data.room }}' +
          '{% if data.seat %}\nSeat: {{ data.seat }}{% endif %}\nPlease arrive 15 minutes early.',
      },
    },
  },
  'course.change': {
    in_app: {
      'zh-CN': {
        title: '调课通知：{{ data.course }}',
        body: '{{ recipient.name }}，你好！《{{ data.course }}》的上课时间由 {{ data.oldTime }} 调整为 {{ data.newTime }}，上课地点：{{ data.room }}。请相互转告。',
      },
      en: {
        title: 'Course change: {{ data.course }}',
        body: 'Dear {{ recipient.name }}, {{ data.course }} moves from {{ data.oldTime }} to {{ data.newTime }}, in {{ data.room }}. Please tell your classmates.',
      },
    },
    wechat: {
      'zh-CN': {
        title: '调课通知',
        body: '{{ recipient.name }}，你好！课程调整如下：\n课程：{{ data.course }}\n原时间：{{ data.oldTime }}\n新时间：{{ data.newTime }}\n地点：{{ data.room }}',
      },
      en: {
        title: 'Course change',
        body: 'Dear {{ recipient.name }}, a class has moved:\nCourse: {{ data.course }}\nWas: {{ data.oldTime }}\nNow: {{ data.newTime }}\nRoom: {{ data.room }}',
      },
    },
    email: {
      'zh-CN': {
        subject: '【调课通知】《{{ data.course }}》上课时间调整',
        body:
          '{{ recipient.name }}，您好：\n\n因教学安排调整，《{{ data.course }}》的上课时间变更如下：\n\n' +
          '原时间：{{ data.oldTime }}\n新时间：{{ data.newTime }}\n上课地点：{{ data.room }}\n\n' +
          `请合理安排时间，准时上课。如有疑问，请联系任课教师或学院教学办公室。\n\n${ZH}教务处`,
      },
      en: {
        subject: 'Course change: {{ data.course }}',
        body:
          'Dear {{ recipient.name }},\n\nThe schedule of {{ data.course }} has changed:\n\n' +
          'Was: {{ data.oldTime }}\nNow: {{ data.newTime }}\nRoom: {{ data.room }}\n\n' +
          `If you have questions, please contact your lecturer or your college's teaching office.\n\nAcademic Affairs Office, ${EN}`,
      },
    },
  },
  'canteen.menu': {
    in_app: {
      'zh-CN': {
        title: '{{ data.canteen }} {{ data.date }} 菜单',
        body: '{{ recipient.name }}，{{ data.canteen }} {{ data.date }} 供应：{{ data.dishes | join: "、" }}。欢迎就餐！',
      },
      en: {
        title: '{{ data.canteen }} menu for {{ data.date }}',
        body: 'Hi {{ recipient.name }}, on {{ data.date }} {{ data.canteen }} serves: {{ data.dishes | join: ", " }}. Enjoy your meal!',
      },
    },
  },
  'library.due': {
    in_app: {
      'zh-CN': {
        title: '图书到期提醒',
        body: '{{ recipient.name }}，你借阅的《{{ data.book }}》将于 {{ data.dueDate }} 到期，请按时归还或在线续借，逾期将影响借阅权限。',
      },
      en: {
        title: 'Library book due',
        body: 'Dear {{ recipient.name }}, "{{ data.book }}" is due on {{ data.dueDate }}. Please return or renew it online in time.',
      },
    },
    email: {
      'zh-CN': {
        subject: '图书到期提醒：《{{ data.book }}》将于 {{ data.dueDate }} 到期',
        body:
          '{{ recipient.name }}，您好：\n\n您借阅的《{{ data.book }}》将于 {{ data.dueDate }} 到期。' +
          `请按时归还至任一校区图书馆，或登录图书馆网站在线续借。逾期未还将暂停借阅权限。\n\n${ZH}图书馆`,
      },
      en: {
        subject: 'Library reminder: "{{ data.book }}" is due on {{ data.dueDate }}',
        body:
          'Dear {{ recipient.name }},\n\n"{{ data.book }}" is due on {{ data.dueDate }}. ' +
          `Please return it to any campus library or renew it online. Overdue loans suspend your borrowing rights.\n\nLibrary, ${EN}`,
      },
    },
  },
  'activity.notice': {
    in_app: {
      'zh-CN': {
        title: '{{ data.title }}',
        body: '{{ recipient.name }}，你好！{{ data.title }}将于 {{ data.time }} 在 {{ data.place }} 举行，欢迎参加！',
      },
      en: {
        title: '{{ data.title }}',
        body: 'Hi {{ recipient.name }}, {{ data.title }} takes place at {{ data.time }} at {{ data.place }}. Everyone is welcome!',
      },
    },
    wechat: {
      'zh-CN': {
        title: '活动通知',
        body: '{{ recipient.name }}，你好！\n活动：{{ data.title }}\n时间：{{ data.time }}\n地点：{{ data.place }}\n欢迎参加！',
      },
      en: {
        title: 'Campus activity',
        body: 'Hi {{ recipient.name }},\nEvent: {{ data.title }}\nTime: {{ data.time }}\nPlace: {{ data.place }}\nEveryone is welcome!',
      },
    },
  },
  'campus.emergency': {
    in_app: {
      'zh-CN': {
        title: '【紧急】{{ data.title }}',
        body: '{{ recipient.name }}：{{ data.instructions }}',
      },
      en: {
        title: 'EMERGENCY: {{ data.title }}',
        body: '{{ recipient.name }}: {{ data.instructions }}',
      },
    },
    sms: {
      'zh-CN': { body: `【${ZH}】紧急通知：{{ data.title }}。{{ data.instructions }}` },
      en: { body: `[${EN}] EMERGENCY: {{ data.title }}. {{ data.instructions }}` },
    },
    wechat: {
      'zh-CN': {
        title: '紧急通知：{{ data.title }}',
        body: '{{ recipient.name }}：\n{{ data.instructions }}\n请保持手机畅通，如需帮助请联系保卫处值班室。',
      },
      en: {
        title: 'Emergency: {{ data.title }}',
        body: '{{ recipient.name }}:\n{{ data.instructions }}\nKeep your phone on; for help, call the campus security duty office.',
      },
    },
    email: {
      'zh-CN': {
        subject: '【紧急通知】{{ data.title }}',
        body:
          '{{ recipient.name }}，您好：\n\n{{ data.title }}\n\n{{ data.instructions }}\n\n' +
          `请立即按以上要求行动，保持手机畅通。如需帮助，请联系保卫处值班室。\n\n${ZH}保卫处`,
      },
      en: {
        subject: 'EMERGENCY: {{ data.title }}',
        body:
          'Dear {{ recipient.name }},\n\n{{ data.title }}\n\n{{ data.instructions }}\n\n' +
          `Please act on these instructions now and keep your phone on. For help, contact the campus security duty office.\n\nCampus Security Office, ${EN}`,
      },
    },
  },
};

// ---- people ------------------------------------------------------------------------------

interface College {
  readonly code: string;
  readonly name: string;
  readonly slug: string;
  readonly campus: '北校区' | '南校区';
  readonly departments: readonly string[];
}

const COLLEGES: readonly College[] = [
  {
    code: '01',
    name: '农学院',
    slug: 'agronomy',
    campus: '北校区',
    departments: ['作物学系', '种子科学与工程系', '农业资源与环境系'],
  },
  {
    code: '02',
    name: '植物保护学院',
    slug: 'plant-protection',
    campus: '北校区',
    departments: ['植物病理学系', '农业昆虫与害虫防治系'],
  },
  {
    code: '03',
    name: '动物科技学院',
    slug: 'animal-science',
    campus: '南校区',
    departments: ['动物科学系', '动物医学系', '水产养殖系'],
  },
  {
    code: '04',
    name: '食品科学与工程学院',
    slug: 'food-science',
    campus: '南校区',
    departments: ['食品科学系', '食品质量与安全系'],
  },
  {
    code: '05',
    name: '信息与电气工程学院',
    slug: 'info-engineering',
    campus: '北校区',
    departments: ['计算机科学与技术系', '电气工程系', '农业信息化系'],
  },
];

const OFFICES = ['教务处', '后勤处', '学生处', '图书馆', '保卫处'] as const;
const STUDENTS_PER_CLASS = 12;
const POSTGRADS_PER_COLLEGE = 8;
const TEACHERS_PER_COLLEGE = 7;
const STAFF_PER_OFFICE = 3;

const SURNAMES = [
  ...'王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴孔汤',
];
const GIVEN = [
  ...'伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华玉萍红娥玲芬燕彬鹏辉斌宇浩凯健俊帆帅旭宁欣悦婷雪琳晨阳佳怡子涵思雨梓轩博文昊然一诺可馨嘉豪俊熙浩宇雅琪诗晴语彤铭泽晓东立新建国志强海燕春梅秋菊冬青禾丰稷穗麦粟',
];
const EN_FIRST = [
  'Amara',
  'Lucas',
  'Sofia',
  'Daniel',
  'Aisha',
  'Mateo',
  'Nadia',
  'Oliver',
  'Fatima',
  'Ivan',
  'Grace',
  'Samuel',
  'Leila',
  'Kwame',
  'Emma',
  'Rahul',
  'Chloe',
  'Tomás',
  'Zara',
  'Noah',
];
const EN_LAST = [
  'Okafor',
  'Silva',
  'Petrova',
  'Mensah',
  'Khan',
  'Rossi',
  'Nguyen',
  'Smith',
  'Haddad',
  'Kowalski',
  'Diallo',
  'Santos',
  'Ahmed',
  'Müller',
  'Tanaka',
  'Sharma',
  'Dubois',
  'García',
  'Bekele',
  'Jensen',
];
const TITLES = ['教授', '副教授', '讲师'] as const;
const OPENID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';

/** mulberry32: a tiny seeded PRNG, so the demo is the same on every machine. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Person {
  readonly externalId: string;
  readonly roles: string[];
  readonly orgPath: string;
  readonly attributes: Record<string, string>;
  readonly international: boolean;
  readonly student: boolean;
}

/** The demo population, deterministic; contact points are added by `toUserInput`. */
function people(): {
  persons: Person[];
  classes: { key: string; name: string; members: string[] }[];
  counselors: string[];
} {
  const rand = prng(20240901);
  const int = (n: number) => Math.floor(rand() * n);
  const persons: Person[] = [];
  const classes: { key: string; name: string; members: string[] }[] = [];
  const counselors: string[] = [];

  for (const college of COLLEGES) {
    const north = college.campus === '北校区';
    // Undergraduates: a 2024 class in every department, a 2023 class in the first one.
    const sections = college.departments.map((dept, i) => ({
      dept,
      grade: '2024',
      classNo: i + 1,
      label: '2024级1班',
    }));
    sections.push({ dept: college.departments[0]!, grade: '2023', classNo: 1, label: '2023级1班' });
    for (const s of sections) {
      const members: string[] = [];
      for (let seq = 1; seq <= STUDENTS_PER_CLASS; seq++) {
        const externalId = `${s.grade}${college.code}${String(s.classNo).padStart(2, '0')}${String(seq).padStart(2, '0')}`;
        // Two or so international students per class; 2024010102 is always one, 2024010101 never.
        const international =
          seq === 2 || (seq === 11 && s.grade === '2024' && s.classNo % 2 === 1);
        const building = int(8) + 1;
        persons.push({
          externalId,
          roles: ['undergraduate'],
          orgPath: `${college.name}/${s.dept}/${s.label}`,
          attributes: {
            grade: s.grade,
            campus: college.campus,
            dorm: `${north ? '北苑' : '南苑'}${building}号楼-${int(5) + 1}${String(int(30) + 1).padStart(2, '0')}`,
            ...(international ? { international: 'yes' } : {}),
          },
          international,
          student: true,
        });
        members.push(externalId);
      }
      if (s.grade === '2024' && s.classNo === 1) {
        classes.push({
          key: `class-2024-${college.slug}-1`,
          name: `${college.name}${s.dept}2024级1班`,
          members,
        });
      }
    }

    for (let seq = 1; seq <= POSTGRADS_PER_COLLEGE; seq++) {
      const grade = seq % 2 === 0 ? '2023' : '2024';
      const international = seq === 3;
      persons.push({
        externalId: `Y${grade}${college.code}${String(seq).padStart(3, '0')}`,
        roles: ['postgraduate'],
        orgPath: `${college.name}/${college.departments[seq % college.departments.length]!}`,
        attributes: {
          grade,
          campus: college.campus,
          degree: seq <= 6 ? 'master' : 'phd',
          dorm: `研究生公寓${int(4) + 1}号楼-${int(6) + 1}${String(int(20) + 1).padStart(2, '0')}`,
          ...(international ? { international: 'yes' } : {}),
        },
        international,
        student: true,
      });
    }
  }

  let teacherNo = 1001;
  for (const college of COLLEGES) {
    for (let i = 0; i < TEACHERS_PER_COLLEGE; i++) {
      const externalId = `T${teacherNo++}`;
      // The first teacher of each college is also its counselor (辅导员).
      if (i === 0) counselors.push(externalId);
      persons.push({
        externalId,
        roles: i === 0 ? ['teacher', 'counselor'] : ['teacher'],
        orgPath: `${college.name}/${college.departments[i % college.departments.length]!}`,
        attributes: {
          title: i === 0 ? '讲师' : TITLES[int(TITLES.length)]!,
          campus: college.campus,
        },
        international: i === TEACHERS_PER_COLLEGE - 1 && college.code === '05',
        student: false,
      });
    }
  }

  let staffNo = 2001;
  for (const office of OFFICES) {
    for (let i = 0; i < STAFF_PER_OFFICE; i++) {
      const externalId = `T${staffNo++}`;
      persons.push({
        externalId,
        roles: externalId === DEMO_OPERATOR ? ['staff', OPERATOR_ROLE] : ['staff'],
        orgPath: office,
        attributes: { campus: i % 2 === 0 ? '北校区' : '南校区' },
        international: false,
        student: false,
      });
    }
  }
  return { persons, classes, counselors };
}

function toUserInputs(persons: readonly Person[], passwordHash: string): UserInput[] {
  const rand = prng(20250101);
  const pickFrom = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
  return persons.map((p, i): UserInput => {
    const name = p.international
      ? `${pickFrom(EN_FIRST)} ${pickFrom(EN_LAST)}`
      : pickFrom(SURNAMES) + (rand() < 0.35 ? pickFrom(GIVEN) : pickFrom(GIVEN) + pickFrom(GIVEN));
    const hasPhone = rand() < 0.9;
    const hasWechat = rand() < 0.5;
    const phone = `138${String(i + 1).padStart(4, '0')}${String(Math.floor(rand() * 10000)).padStart(4, '0')}`;
    const openId = 'o' + Array.from({ length: 27 }, () => pickFrom([...OPENID_CHARS])).join('');
    return {
      externalId: p.externalId,
      name,
      roles: p.roles,
      orgPath: p.orgPath,
      attributes: p.attributes,
      locale: p.international ? 'en' : 'zh-CN',
      timezone: 'Asia/Shanghai',
      email: `${p.externalId.toLowerCase()}@${p.student ? 'stu.' : ''}example.edu.cn`,
      phone: hasPhone ? phone : null,
      wechatOpenId: hasWechat ? openId : null,
      passwordHash,
    };
  });
}

function demoPassword(): string {
  // 12 characters without look-alikes (0/O, 1/l/I): easy to type from the start banner.
  const alphabet = 'abcdefghijkmnpqrstuvwxyz23456789';
  const bytes = randomBytes(12);
  return 'demo-' + Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
}

/**
 * Seeds the demo university into an EMPTY database (the caller checks) in one transaction.
 * Creates no API keys: the caller creates one per source and prints them.
 */
export async function seedDemo(db: Db, now: number): Promise<DemoSeed> {
  const password = demoPassword();
  // One scrypt hash shared by all demo users: hashing 300 times would take ~15 s.
  const passwordHash = await hashPassword(password);
  const { persons, classes, counselors } = people();
  const users = toUserInputs(persons, passwordHash);

  const run = async (tx: Tx): Promise<DemoSeed> => {
    await upsertUsers(tx, users, now);

    await tx
      .insertInto('categories')
      .values(
        DEMO_CATEGORIES.map((c) => ({
          key: c.key,
          name: JSON.stringify(c.name),
          priority: c.priority,
          mandatory: c.mandatory ? 1 : 0,
          default_channels: JSON.stringify(c.defaultChannels),
          max_attempts: c.maxAttempts,
          channel_fallbacks: '{}',
          email_from: null,
          email_reply_to: null,
          created_at: now,
          updated_at: now,
        })),
      )
      .execute();

    const templates = DEMO_CATEGORIES.flatMap((c) =>
      c.defaultChannels.flatMap((channel) =>
        (['zh-CN', 'en'] as const).map((locale) => {
          const t = DEMO_TEMPLATES[c.key][channel]?.[locale];
          if (!t) throw new Error(`demo seed: no ${locale} ${channel} template for ${c.key}`);
          return {
            id: newId(now),
            category_key: c.key,
            channel,
            locale,
            version: 1,
            subject: t.subject ?? null,
            title: t.title ?? null,
            body: t.body,
            created_at: now,
          };
        }),
      ),
    );
    await tx.insertInto('templates').values(templates).execute();

    for (const s of DEMO_SOURCES) await insertSource(tx, s, now);

    const groups: (GroupInput & { key: string })[] = [
      ...classes,
      { key: 'counselors', name: '辅导员', members: counselors },
      { key: 'all-teachers', name: '全体教师', filter: { roles: ['teacher'] } },
      {
        key: 'all-students',
        name: '全体学生',
        filter: { roles: ['undergraduate', 'postgraduate'] },
      },
      {
        key: 'international-students',
        name: '国际学生 International students',
        filter: { attributes: { international: 'yes' } },
      },
      ...COLLEGES.map((c) => ({
        key: `college-${c.slug}`,
        name: `${c.name}全体师生`,
        filter: { orgPrefix: c.name },
      })),
    ];
    for (const g of groups) {
      const res = await createGroup(tx, g, now);
      if (!res.ok) throw new Error(`demo seed: group ${g.key} failed (${res.reason})`);
    }

    return {
      users: users.length,
      password,
      loginExamples: { zh: '2024010101', en: '2024010102', operator: DEMO_OPERATOR },
      sources: DEMO_SOURCES.map((s) => s.key),
      categories: DEMO_CATEGORIES.map((c) => c.key),
    };
  };
  return db.isTransaction ? run(db) : db.transaction().execute(run);
}
