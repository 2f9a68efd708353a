import type { LexiconSource } from '../language.ts';

export const fr: LexiconSource = { markers: '', cues: '', entries: '' };
