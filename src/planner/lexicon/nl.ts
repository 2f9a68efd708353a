import type { LexiconSource } from '../language.ts';

export const nl: LexiconSource = { markers: '', cues: '', entries: '' };
