"""A program written for the older Python prompt tracker, run on ptrack.

Only the two imports changed; they used to read:

    from config.prompt_registry import prompt_registry, PromptConfig
    from utils.prompt_performance_tracker import performance_tracker, PerformanceMetrics
"""

from ptrack.compat import prompt_registry, PromptConfig
from ptrack.compat import performance_tracker, PerformanceMetrics


def log_call(prompt_name, user_text, output, execution_time_ms, success=True):
    prompt = prompt_registry.get_latest_prompt(prompt_name)
    if not prompt:
        print(f"Prompt '{prompt_name}' not found!")
        return
    metrics = PerformanceMetrics(
        execution_time_ms=execution_time_ms,
        token_count=len(output.split()),
        output_length=len(output),
        success=success,
        error_message=None if success else "model error",
        quality_score=8.0 if success else 2.0,
    )
    performance_tracker.log_execution(
        prompt_name=prompt_name,
        prompt_version=prompt.version,
        output=output,
        metrics=metrics,
        input_data={"input": user_text},
    )
    print(f"logged {prompt_name} v{prompt.version} ({prompt.model}, t={prompt.temperature})")


def main():
    for name in prompt_registry.list_prompts():
        versions = prompt_registry.get_prompt_versions(name)
        print(f"{name}: {len(versions)} version(s), latest {versions[-1].version}")

    log_call("coaching_system", "I feel stuck", "Pick one task and start with five minutes.", 1200)
    log_call("coaching_system", "Too many meetings", "Decline one meeting a day this week.", 950)
    log_call("task_classification", "Go for a run", '["health"]', 150)
    log_call("task_classification", "Update my CV", '["career"]', 0, success=False)

    writing = PromptConfig(
        name="creative_writing",
        version="1.0",
        goal="Suggest story ideas",
        model="llama3.1:8b",
        temperature=0.9,
        token_limit=300,
        top_p=0.95,
        top_k=40,
        prompt="You help writers get unstuck.\n\nContext: {{ writing_context }}\n\nGive three story ideas.",
    )
    print("registered", prompt_registry.register_prompt(writing))
    log_call("creative_writing", "a sci-fi story", "1. Memories for sale. 2. A split timeline. 3. A kind AI.", 800)

    for name in ("coaching_system", "task_classification", "creative_writing"):
        summary = performance_tracker.get_performance_summary(name, days=30)
        print(
            f"{name}: {summary['total_executions']} executions, "
            f"success {summary['success_rate']:.1%}, "
            f"mean {summary['average_execution_time_ms']:.1f}ms, "
            f"length {summary['average_output_length']:.0f}"
        )
    for version, m in performance_tracker.get_version_comparison("coaching_system").items():
        print(f"  v{version}: {m['total_executions']} executions, {m['success_rate']:.1%} success rate")
    trend = performance_tracker.get_trend_analysis("coaching_system", days=30)
    if not trend.get("insufficient_data"):
        print(f"trend: {trend['overall_trend']} over {trend['total_executions']} executions")


if __name__ == "__main__":
    main()
