import KubeAPI
import KubeAPIExtensions
import TideAPI

/// Mode CronJob: the scaler as a CronJob, one decision a run.
enum ScalerCronJob: ScalerPart {
    static func isWanted(by autoscaler: Autoscaler) -> Bool { mode(of: autoscaler) == .cronJob }

    static func desired(for autoscaler: Autoscaler, target: AutoscalerChildren.Target, settings: OperatorSettings) throws -> DesiredChild {
        try DesiredChild(Children.scalerCronJob(for: ScalerOwner(autoscaler), settings: settings), part: self)
    }
}

extension Children {
    /// The scaler as a CronJob: one decision a run.
    public static func scalerCronJob(for owner: ScalerOwner, settings: OperatorSettings) -> CronJob {
        CronJob(
            metadata: owner.metadata(),
            spec: .init(
                schedule: owner.scaling?.schedule ?? Defaults.schedule, concurrencyPolicy: "Forbid", suspend: false,
                startingDeadlineSeconds: 60, successfulJobsHistoryLimit: 1, failedJobsHistoryLimit: 1,
                // A run that decided, or recorded why it could not, exits 0: the Job neither
                // retries it (which would count a failure twice) nor warns every tick.
                // backoffLimit 1 retries only a run that could not record anything.
                jobTemplate: .init(spec: .init(
                    backoffLimit: 1, activeDeadlineSeconds: 120, ttlSecondsAfterFinished: 600,
                    template: scalerPod(
                        for: owner, settings: settings, arguments: scalerArguments(for: owner) + ["--exit-zero-when-recorded"],
                        restartPolicy: "Never")))))
    }
}
