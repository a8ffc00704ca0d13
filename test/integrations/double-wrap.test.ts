// Wrapping an already budgeted client again would reserve and charge every call twice: every fetch-based wrapper
// refuses it when wrapping, with a BudgetConfigError, and leaves the original client free to be wrapped again.
import Anthropic from '@anthropic-ai/sdk'
import { GoogleGenAI } from '@google/genai'
import { Mistral } from '@mistralai/mistralai'
import { CohereClientV2 } from 'cohere-ai'
import Groq from 'groq-sdk'
import OpenAI from 'openai'
import { describe, expect, it } from 'vitest'
import { BudgetManager } from '../../src/budget/manager.js'
import { BudgetConfigError } from '../../src/errors.js'
import { withAnthropicBudget } from '../../src/integrations/anthropic.js'
import { withCohereBudget } from '../../src/integrations/cohere.js'
import { withGoogleBudget } from '../../src/integrations/google.js'
import { withGroqBudget } from '../../src/integrations/groq.js'
import { withMistralBudget } from '../../src/integrations/mistral.js'
import { withOpenAIBudget } from '../../src/integrations/openai.js'

const URL = 'http://127.0.0.1:9'
const options = { manager: new BudgetManager(), context: { user: 'alice' } }

const wrappers: Array<[string, () => object, (client: never) => object]> = [
  ['withOpenAIBudget', () => new OpenAI({ apiKey: 'sk-test', baseURL: URL }), (c) => withOpenAIBudget(c, options)],
  [
    'withAnthropicBudget',
    () => new Anthropic({ apiKey: 'sk-test', baseURL: URL }),
    (c) => withAnthropicBudget(c, options),
  ],
  ['withGroqBudget', () => new Groq({ apiKey: 'gsk-test', baseURL: URL }), (c) => withGroqBudget(c, options)],
  ['withMistralBudget', () => new Mistral({ apiKey: 'test', serverURL: URL }), (c) => withMistralBudget(c, options)],
  [
    'withCohereBudget',
    () => new CohereClientV2({ token: 'test', environment: URL }),
    (c) => withCohereBudget(c, options),
  ],
  [
    'withGoogleBudget',
    () => new GoogleGenAI({ apiKey: 'test', httpOptions: { baseUrl: URL } }),
    (c) => withGoogleBudget(c, options),
  ],
]

describe('a budgeted client wrapped again', () => {
  for (const [name, make, wrap] of wrappers) {
    it(`${name} refuses a client it (or another wrapper) already budgeted`, () => {
      const original = make()
      const budgeted = wrap(original as never)
      const error = (() => {
        try {
          wrap(budgeted as never)
        } catch (caught) {
          return caught
        }
        return undefined
      })()
      expect(error).toBeInstanceOf(BudgetConfigError)
      expect((error as Error).message).toMatch(/already budgeted.*twice/)
      // The original stays free: two separate wrappers of it (e.g. for two contexts) are fine.
      expect(() => wrap(original as never)).not.toThrow()
    })
  }
})
